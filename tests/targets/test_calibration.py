"""The calibrated lambda -> sparsity model of CAP-soft and soft movement."""

from __future__ import annotations

import math
import random

import pytest

from orchestrator.calibration import Covariate, LambdaCalibration, Observation

CEILING = 0.992
TARGETS = (0.5, 0.9, 0.97)


def _calibration(covariates=()) -> LambdaCalibration:
    return LambdaCalibration(CEILING, (math.log(100.0), math.log(4000.0)), covariates)


def _true_curve(log_lambda: float, shift: float = 0.0) -> float:
    """A known curve (slope 1.2 per log unit, 50% of the ceiling at lambda ~245)."""
    return CEILING / (1.0 + math.exp(-(1.2 * (log_lambda - 5.5) + shift)))


def test_fit_is_monotone_in_lambda_and_proposals_in_target():
    cal = _calibration()
    # the README's dev-profile QQP points (lambda -> sparsity), a real curve
    obs = [Observation(math.log(lam), s) for lam, s in
           ((100, 0.47), (300, 0.73), (1000, 0.94), (3000, 0.99))]
    for focus in (None, 0.5, 0.97):
        fit = cal.fit(obs, focus=focus)
        grid = [fit.predict(math.log(10) + i * 0.1) for i in range(80)]
        assert all(b >= a for a, b in zip(grid, grid[1:]))
        assert fit.b > 0
    lambdas = [cal.propose(t, {}, obs, TARGETS)[0] for t in (0.3, *TARGETS, 0.98)]
    assert lambdas == sorted(lambdas)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recovers_a_noisy_synthetic_curve_within_one_point_after_six_trials(seed):
    cal, rng, obs = _calibration(), random.Random(seed), []
    for i in range(6):  # the sweep's own sequence: targets in turn, each fitted on the last
        target = TARGETS[i % len(TARGETS)]
        lam, _ = cal.propose(target, {}, obs, TARGETS)
        reached = _true_curve(math.log(lam)) + rng.gauss(0.0, 0.005)
        obs.append(Observation(math.log(lam), reached))
    for target in TARGETS:
        lam, predicted = cal.propose(target, {}, obs, TARGETS)
        assert abs(_true_curve(math.log(lam)) - target) <= 0.01, (target, lam)
        assert abs(predicted - target) <= 0.01


def test_first_trials_bracket_the_range_and_extrapolation_is_bounded():
    cal = _calibration()
    lambdas = [cal.propose(t, {}, [], TARGETS)[0] for t in TARGETS]
    # the prior spreads them over the range: the first trials bracket it
    assert 100 < lambdas[0] < lambdas[1] < lambdas[2] < 4000 and lambdas[2] > 8 * lambdas[0]
    # one trial far short of 0.97: the next one steps up by at most a factor e^1.5
    obs = [Observation(math.log(200.0), 0.3)]
    lam, _ = cal.propose(0.97, {}, obs, TARGETS)
    assert 200.0 < lam <= 200.0 * math.exp(1.5) + 1e-6


def test_a_searched_knob_that_shifts_the_curve_is_learned():
    ce = Covariate("ce_loss_weight", 0.03, 1.0, log=True)
    cal, rng, obs = _calibration([ce]), random.Random(3), []
    for i in range(24):
        weight = math.exp(rng.uniform(math.log(0.03), math.log(1.0)))
        lam = math.exp(rng.uniform(math.log(100.0), math.log(4000.0)))
        shift = -1.0 * ce.scaled(weight)  # a larger CE weight resists the L1 push
        reached = _true_curve(math.log(lam), shift) + rng.gauss(0.0, 0.005)
        obs.append(Observation(math.log(lam), reached, {"ce_loss_weight": weight}))
    for weight in (0.05, 0.8):
        lam, _ = cal.propose(0.9, {"ce_loss_weight": weight}, obs, TARGETS)
        truth = _true_curve(math.log(lam), -1.0 * ce.scaled(weight))
        assert abs(truth - 0.9) <= 0.015, (weight, lam, truth)


def _earlier_sweep(root, settings, points):
    """An earlier cap_soft_sst2 smoke experiment whose trials reached ``points``."""
    import json

    import pyarrow.parquet as pq

    from analysis import schema as S

    exp = root / "old"
    (exp / "results").mkdir(parents=True)
    (exp / "experiment.json").write_text(json.dumps(
        {"name": "old", "space": "cap_soft_sst2", "profile": "smoke", "settings": settings}))
    for i, (lam, reached) in enumerate(points):
        row = {S.EXPERIMENT: "old", S.SPACE: "cap_soft_sst2", S.METHOD: "cap-soft",
               S.TASK: "sst2", S.MODEL: "tiny", S.PROFILE: "smoke", S.TRIAL_ID: f"o{i}",
               S.STATUS: S.STATUS_COMPLETED, S.IS_FINAL: True, S.ITERATION: 1, S.SCORE: 0.5,
               S.WEIGHT_SPARSITY: reached, S.param_column("final_lambda"): lam}
        pq.write_table(S.rows_to_table([row]), exp / "results" / f"o{i}-it000001.parquet")
    return {"name": "old", "space": "cap_soft_sst2", "profile": "smoke",
            "settings": settings}, str(exp)


def test_warm_start_rows_of_an_earlier_sweep_calibrate_the_first_trial(tmp_path):
    from orchestrator.settings import build_settings
    from orchestrator.target_plan import condition_key, plan_targets
    from search_spaces import get_space

    sweep = build_settings(get_space("cap_soft_sst2"), "smoke")
    truth = [(lam, _true_curve(math.log(lam))) for lam in (80, 150, 300, 700, 1500, 4000)]
    source = _earlier_sweep(tmp_path, sweep.settings, truth)
    cold = plan_targets("0.5,0.9", sweep)
    warm = plan_targets("0.5,0.9", sweep, source)
    assert len(warm.warm_observations) == 6 and not cold.warm_observations
    knobs = {"final_lambda": None, "target_sparsity": 0.5, **sweep.settings}
    cold_lam = cold.assign("t0", dict(knobs))["final_lambda"]
    warm_config = warm.assign("t0", dict(knobs))
    # the earlier rows put lambda where the curve reaches 0.5; the prior alone does not
    assert abs(_true_curve(math.log(warm_config["final_lambda"])) - 0.5) <= 0.01
    assert abs(_true_curve(math.log(cold_lam)) - 0.5) > 0.02
    assert warm_config["predicted_sparsity"] == pytest.approx(0.5, abs=0.01)
    # another schedule (a different score learning rate) is another curve: not used
    other = build_settings(get_space("cap_soft_sst2"), "smoke",
                           sets=["mask_scores_learning_rate=0.5"])
    plan = plan_targets("0.5", other, source)
    key = condition_key(other.settings, plan.condition_keys)
    used = [o for o in plan.warm_observations if o.key == key]
    assert len(plan.warm_observations) == 6 and not used
