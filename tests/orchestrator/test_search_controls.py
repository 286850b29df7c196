"""Early stopping, samplers, constraints, warm start, time budget, status: real sweeps of the
fixed-work trainable on the session's local Ray cluster."""

from __future__ import annotations

import json
import subprocess
import sys

import optuna
import pytest

from analysis import schema as S
from analysis.io import read_results
from analysis.pareto import pareto_mask
from orchestrator.cli import main
from orchestrator.early_stop import ParetoRungScheduler
from tests.orchestrator.helpers import REPO, cli_env, study_of

FAST = ["--space", "calibrate", "--set", "work_s=0.4", "--quiet"]


def _launch(tmp_path, name: str, *args: str) -> int:
    return main(["launch", *FAST, "--storage", str(tmp_path), "--name", name, *args])


def test_early_stopped_trials_are_pruned_and_never_on_the_front(ray_local, tmp_path):
    assert _launch(tmp_path, "es", "--num-samples", "10", "--seed", "1") == 0
    df = read_results(tmp_path / "es", strict=True)
    final = df[df[S.IS_FINAL]]
    pruned = set(final[final[S.STATUS] == S.STATUS_PRUNED][S.TRIAL_ID])
    completed = final[final[S.STATUS] == S.STATUS_COMPLETED]
    assert pruned, "no trial was stopped early; the test needs a weaker rung"
    front = completed[pareto_mask(completed, {"score": "max"})]
    assert pruned.isdisjoint(front[S.TRIAL_ID])
    study = study_of(tmp_path / "es")
    states = {t.user_attrs["tune_trial_id"]: t.state for t in study.trials}
    assert {states[t] for t in pruned} == {optuna.trial.TrialState.PRUNED}
    assert all(states[t] == optuna.trial.TrialState.COMPLETE for t in completed[S.TRIAL_ID])


def test_no_early_stop_runs_every_trial_to_the_end(ray_local, tmp_path):
    assert _launch(tmp_path, "all", "--num-samples", "6", "--seed", "1",
                   "--no-early-stop") == 0
    final = read_results(tmp_path / "all", strict=True).query("is_final")
    assert (final[S.STATUS] == S.STATUS_COMPLETED).sum() == 6


def test_scheduler_judges_only_after_sparsity_settles():
    sched = ParetoRungScheduler(rungs=(0.5,), min_trials=2, reduction_factor=2)
    good = {"score": 0.9, "weight_sparsity": 0.5, "step": 5, "total_steps": 10,
            "sparsity_settled": True}
    assert sched.decide("a", good) == "CONTINUE"
    unsettled = dict(good, score=0.1, sparsity_settled=False)
    assert sched.decide("b", unsettled) == "CONTINUE"  # still pruning: not comparable yet
    assert sched.decide("b", dict(unsettled, sparsity_settled=True)) == "STOP"
    # Higher sparsity shelters a lower score: not dominated, so it goes on.
    assert sched.decide("c", dict(good, score=0.5, weight_sparsity=0.9)) == "CONTINUE"
    assert sched.decide("d", dict(good, score=0.5, weight_sparsity=0.51)) == "STOP"


@pytest.mark.parametrize("sampler", ["nsga2", "nsga3", "gp", "random", "qmc"])
def test_samplers(ray_local, tmp_path, sampler):
    assert _launch(tmp_path, sampler, "--num-samples", "2", "--sampler", sampler,
                   "--seed", "0", "--no-early-stop") == 0
    assert json.loads((tmp_path / sampler / "experiment.json").read_text())["sampler"] == sampler


def test_without_flags_the_spaces_measured_sampler_and_early_stopping_are_used(ray_local, tmp_path, monkeypatch):
    import dataclasses

    import orchestrator.settings

    real = orchestrator.settings.get_space
    monkeypatch.setattr(orchestrator.settings, "get_space", lambda name: dataclasses.replace(
        real(name), default_sampler="qmc", default_early_stop=False)
        if name == "calibrate" else real(name))
    assert _launch(tmp_path, "default", "--num-samples", "2") == 0
    record = json.loads((tmp_path / "default" / "experiment.json").read_text())
    assert (record["sampler"], record["early_stop"]) == ("qmc", False)
    assert _launch(tmp_path, "given", "--num-samples", "1", "--sampler", "tpe",
                   "--early-stop") == 0  # the flags still win
    record = json.loads((tmp_path / "given" / "experiment.json").read_text())
    assert (record["sampler"], record["early_stop"]) == ("tpe", True)


def test_a_space_with_an_unknown_default_sampler_is_refused():
    import dataclasses

    import search_spaces
    from search_spaces.space import SpaceError

    with pytest.raises(SpaceError, match="default_sampler.*'cmaes'"):
        dataclasses.replace(search_spaces.get_space("calibrate"), default_sampler="cmaes")


def test_min_sparsity_constraint_reaches_the_study(ray_local, tmp_path):
    assert _launch(tmp_path, "c", "--num-samples", "2", "--min-sparsity", "0.9",
                   "--no-early-stop") == 0
    values = [t.constraints for t in study_of(tmp_path / "c").trials]
    # 0.9 - sparsity 0 > 0: infeasible, and the samplers see it.
    assert values == [{"weight_sparsity>=0.9": pytest.approx(0.9)}] * 2


def test_warm_start_seeds_the_study(ray_local, tmp_path):
    assert _launch(tmp_path, "first", "--num-samples", "3", "--no-early-stop") == 0
    assert _launch(tmp_path, "second", "--num-samples", "1", "--warm-start", "first",
                   "--no-early-stop") == 0
    trials = study_of(tmp_path / "second").trials
    seeded = [t for t in trials if t.user_attrs.get("warm_start") == "first"]
    assert len(seeded) == 3 and len(trials) == 4


def test_time_budget_stops_the_sweep(ray_local, tmp_path):
    assert main(["launch", "--space", "calibrate", "--set", "work_s=30", "--quiet",
                 "--storage", str(tmp_path), "--name", "tb", "--num-samples", "4",
                 "--time-budget", "8", "--no-early-stop"]) == 0
    final = read_results(tmp_path / "tb", strict=True).query("is_final")
    assert (final[S.STATUS] == S.STATUS_PRUNED).any()
    assert not (final[S.STATUS] == S.STATUS_COMPLETED).any()
    states = {t.state for t in study_of(tmp_path / "tb").trials}
    assert states == {optuna.trial.TrialState.PRUNED}  # none left RUNNING


def test_status_reports_trials_front_and_time(ray_local, tmp_path):
    assert _launch(tmp_path, "st", "--num-samples", "3", "--no-early-stop") == 0
    out = subprocess.run([sys.executable, "-m", "orchestrator", "status", "st", "--storage",
                          str(tmp_path)], capture_output=True, text=True, cwd=REPO,
                         env=cli_env(), check=True).stdout
    assert "3 completed" in out and "0 not started" in out
    assert "hypervolume" in out and "the sweep has finished" in out
