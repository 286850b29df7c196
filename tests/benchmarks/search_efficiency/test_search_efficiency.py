"""The search-efficiency benchmark: theory on a known front, a tiny generated table, parts.

Random search on the front ``score = 1 - x``, ``sparsity = x`` (x uniform on [0, 1],
reference point 0, 0) has the expected hypervolume ``1/2 - 1/(n + 2)`` after n trials (the
staircase under n uniform points); the runner, driving the product's ``SweepSearch`` with
``make_sampler("random")``, must match it within its standard error.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "benchmarks"))

import search_efficiency as se  # noqa: E402
import search_surrogate as ss  # noqa: E402

# GENERATED rows in the recorded table's format (make_generated_table.py): the real table is
# too small and too slow to fit for a test that must take seconds.
TINY = Path(__file__).parent / "generated_smp_sst2.csv"


def define_x(trial):
    trial.suggest_float("x", 0.0, 1.0)


def synthetic_space():
    from search_spaces.space import SearchSpace

    return SearchSpace(name="synthetic_front", trainable="dense", description="x on a line",
                       define=define_x,
                       objectives=(("score", "max"), ("weight_sparsity", "max")))


class LineFront(se.Benchmark):
    """Every trial lands on the front: sparsity x, score 1 - x; two evaluations, no noise."""

    fractions = np.array([0.5, 1.0])
    settled_from = 0.0

    def sample(self, values, rng):
        x = float(values["x"])
        return {"fractions": self.fractions,
                "curves": {"score": np.array([0.5 * (1 - x), 1 - x]),
                           "weight_sparsity": np.array([x, x])},
                "cost_s": np.array([5.0, 10.0])}


def test_random_search_matches_the_expected_hypervolume_of_uniform_draws():
    space, bench, n, seeds = synthetic_space(), LineFront(), 8, 60
    histories = np.array([se.hv_history(se.run_search(space, bench, "random", seed, n,
                                                      early_stop=False), 0.0)
                          for seed in range(seeds)])
    assert (np.diff(histories, axis=1) >= -1e-12).all()  # never falls as trials are added
    for k in (1, 2, 4, 8):
        expected = 0.5 - 1 / (k + 2)
        mean = histories[:, k - 1].mean()
        se_k = histories[:, k - 1].std(ddof=1) / np.sqrt(seeds)
        assert abs(mean - expected) < 4 * se_k + 1e-3, (k, mean, expected, se_k)


def test_qmc_covers_the_line_better_than_random_early():
    """A scrambled Sobol design fills [0, 1] more evenly: higher mean HV after 8 trials."""
    space, bench = synthetic_space(), LineFront()
    hv = {name: np.mean([se.hv_history(se.run_search(space, bench, name, seed, 8,
                                                     early_stop=False), 0.0)[-1]
                         for seed in range(20)]) for name in ("random", "qmc")}
    assert hv["qmc"] > hv["random"]


def test_early_stopping_stops_dominated_trials_and_saves_compute():
    space, bench = synthetic_space(), LineFront()

    class Dominated(LineFront):  # x > 0.75 is dominated (a quarter: ties are never stopped)
        def sample(self, values, rng):
            out = super().sample(values, rng)
            if values["x"] > 0.75:
                out["curves"]["score"] = np.array([0.0, 0.0])
                out["curves"]["weight_sparsity"] = np.array([0.0, 0.0])
            return out

    on = se.run_search(space, Dominated(), "random", 0, 24, early_stop=True)
    off = se.run_search(space, Dominated(), "random", 0, 24, early_stop=False)
    assert sum(o.stopped_at is not None for o in on) > 0
    assert sum(o.cost_s for o in on) < sum(o.cost_s for o in off)
    assert all(o.completed for o in off)


def test_flat_forest_predicts_what_scikit_learn_predicts():
    rng = np.random.default_rng(0)
    x = rng.uniform(size=(40, 3))
    y = np.stack([x[:, 0] ** 2 + x[:, 1], np.sin(3 * x[:, 2])], axis=1)
    forest = ss._forest(0).fit(x, y)
    flat = ss.FlatForest(forest)
    for row in rng.uniform(size=(25, 3)):
        np.testing.assert_allclose(flat.predict_one(row), forest.predict(row[None])[0])


def test_tiny_table_runs_through_the_runner_and_gives_every_metric(tmp_path, capsys):
    out = tmp_path / "result.json"
    status = se.main(["--table", str(TINY), "--seeds", "2", "--max-trials", "8",
                      "--samplers", "tpe,random", "--json", str(out), "--force"])
    assert status == 0
    report = json.loads(out.read_text())["smp_sst2"]
    assert report["reference_hv"] > 0
    assert set(report["accuracy"]) == {"score", "weight_sparsity"}
    for key in ("tpe/no-es", "tpe/es", "random/no-es", "random/es"):
        summary = report["results"][key]
        assert set(summary["hv"]) == {"8"}
        assert 0 <= summary["hv"]["8"][0] <= 1.5
        assert summary["trials_to_target"][0] >= 1 and summary["compute"][0] > 0
    assert set(report["early_stop"]) == {"tpe", "random"}
    assert "| tpe/es |" in capsys.readouterr().out


@pytest.mark.parametrize("space", ["smp_sst2", "cap_soft_sst2"])
def test_the_recorded_table_runs_through_the_runner(tmp_path, space):
    """The committed table of real trials (its first 16 main-sweep trials: seconds) has the
    format the surrogate and the runner read, and its surrogate predicts held-out trials."""
    recorded = REPO / "benchmarks" / "search_table" / f"{space}.csv"
    rows = list(csv.DictReader(recorded.open()))
    first = list(dict.fromkeys(r["trial_id"] for r in rows if r["repeat"] == "0"))[:16]
    assert len(first) == 16, f"{recorded} has fewer than 16 recorded trials"
    sliced = tmp_path / f"{space}.csv"
    with sliced.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(r for r in rows if r["trial_id"] in first)
    out = tmp_path / "result.json"
    assert se.main(["--table", str(sliced), "--seeds", "2", "--max-trials", "8",
                    "--samplers", "random", "--early-stop", "off", "--json", str(out),
                    "--force"]) == 0
    report = json.loads(out.read_text())[space]
    assert report["reference_hv"] > 0  # the recorded front beats chance
    assert 0 < report["results"]["random/no-es"]["hv"]["8"][0] <= 1.5


def test_a_surrogate_that_cannot_predict_is_refused(tmp_path, capsys):
    """Scores shuffled across trials: no forest can predict them, so the runner refuses."""
    rows = list(csv.DictReader(TINY.open()))
    finals = [r for r in rows if r["is_final"] == "1"]
    rng = np.random.default_rng(0)
    shuffled = rng.permutation([r["score"] for r in finals])
    for row, score in zip(finals, shuffled):
        row["score"] = score
    bad = tmp_path / "smp_sst2.csv"
    with bad.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert se.main(["--table", str(bad), "--seeds", "2", "--max-trials", "4"]) == 3
    assert "refused: surrogate too inaccurate on score" in capsys.readouterr().out


def test_bad_runner_input_is_one_line_and_exit_2(capsys):
    assert se.main(["--samplers", "tpe,annealing", "--table", str(TINY)]) == 2
    assert "annealing" in capsys.readouterr().err
    assert se.main(["--seeds-for", "gp=1", "--table", str(TINY)]) == 2


def test_exporter_appends_and_never_rewrites(tmp_path):
    sys.path.insert(0, str(REPO / "benchmarks" / "search_table"))
    import export

    table = tmp_path / "t.csv"
    row = {"space": "smp_sst2", "experiment": "e", "trial_id": "a", "seed": 42, "repeat": 0,
           "repeat_of": "", "status": "completed", "step": 60, "total_steps": 60,
           "fraction": 1.0, "sparsity_settled": 1, "is_final": 1, "score": 0.8,
           "weight_sparsity": 0.2, "head_sparsity": 0.5, "elapsed_s": 30.0,
           "train_time_s": 25.0, "param_prune_ratio": 0.5}
    assert export.append_rows(table, [row]) == 1
    before = table.read_bytes()
    assert export.append_rows(table, [row]) == 0
    assert table.read_bytes() == before
    assert export.append_rows(table, [row, {**row, "trial_id": "b"}]) == 1
    assert table.read_bytes().startswith(before)
    with pytest.raises(SystemExit):
        export.append_rows(table, [{**row, "trial_id": "c", "param_new": 1}])


def test_exporter_drops_a_failed_row_that_a_resume_retry_superseded(tmp_path, monkeypatch):
    import pandas as pd

    sys.path.insert(0, str(REPO / "benchmarks" / "search_table"))
    import export

    from analysis import schema as S

    def row(trial, iteration, step, status, final, score):
        return {S.EXPERIMENT: "e", S.TRIAL_ID: trial, S.ITERATION: iteration, S.STEP: step,
                S.STATUS: status, S.IS_FINAL: final, S.SCORE: score, S.SEED: 42,
                S.WEIGHT_SPARSITY: 0.2, S.HEAD_SPARSITY: 0.5, S.ELAPSED_S: 1.0 * iteration,
                S.TRAIN_TIME_S: 1.0, S.param_column("prune_ratio"): 0.5}

    rows = [row("a", 1, 30, "completed", False, 0.6),  # failed (disk full) after step 30 ...
            row("a", 2, 30, "failed", True, 0.6),
            row("a", 2, 60, "completed", True, 0.7),   # ... then retried by resume
            row("b", 1, 30, "completed", False, 0.5),  # failed for good
            row("b", 2, 30, "failed", True, 0.5),
            row("c", 1, 30, "completed", False, 0.5)]  # still running
    import analysis.io

    monkeypatch.setattr(analysis.io, "read_results", lambda *a, **k: pd.DataFrame(rows))
    monkeypatch.setattr(export, "_settings", lambda d: {
        "space": "smp_sst2", "settings": {"max_steps": 60}, "searched": ["prune_ratio"]})
    out = export.trial_rows(tmp_path)
    assert [(r["trial_id"], r["status"], r["is_final"]) for r in out] == [
        ("a", "completed", 0), ("a", "completed", 1),
        ("b", "completed", 0), ("b", "failed", 1)]


def test_qmc_is_a_sampler_choice_and_refuses_constraints():
    import optuna

    from orchestrator.errors import UsageError
    from orchestrator.search import SAMPLERS, make_sampler

    assert "qmc" in SAMPLERS
    assert isinstance(make_sampler("qmc", 0, 2, False), optuna.samplers.QMCSampler)
    with pytest.raises(UsageError, match="qmc sampler ignores constraints"):
        make_sampler("qmc", 0, 2, True)


# -- target mode (benchmarks/search_efficiency_targets.py) ---------------------------------

def _target_table(tmp_path, trials=30):
    import csv

    from make_generated_table import target_rows

    rows = target_rows(trials)
    path = tmp_path / "cap_soft_qqp.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_target_mode_replays_the_plan_and_scores_each_target(tmp_path):
    import search_efficiency_targets as set_
    import search_spaces
    from search_surrogate import fit, load_table

    table = load_table(_target_table(tmp_path))
    space = search_spaces.get_space("cap_soft_qqp")
    targets = set_.table_targets(table)
    assert targets == (0.5, 0.9, 0.97)
    surrogate = fit(set_.with_target_param(table), space,
                    params=set_.target_params(space, "final_lambda"))
    assert "final_lambda" not in [p.name for p in surrogate.params]
    outcomes = set_.run_search(space, surrogate, "random", 0, 12, early_stop=False,
                               targets=set_.plan_factory(space, targets)())
    # the plan serves the targets round robin, as launch --targets does
    assert sorted(o.target for o in outcomes) == [0.5] * 4 + [0.9] * 4 + [0.97] * 4
    best = set_.best_per_target(table, targets)
    metrics = set_.target_metrics(outcomes, best, 0.3185, (8, 12))
    for target in targets:
        found = max(o.score for o in outcomes if o.target == target)
        assert metrics[target]["best"][12] == found
        assert metrics[target]["best"][8] <= found


def test_trials_to_95_percent_count_the_gain_over_the_majority_score():
    import search_efficiency_targets as set_
    from search_efficiency import TrialOutcome

    outcomes = [TrialOutcome(0.60, 0.5, True, 1.0, None, 0.5),
                TrialOutcome(0.79, 0.9, True, 1.0, None, 0.9),
                TrialOutcome(0.78, 0.5, True, 1.0, None, 0.5)]
    metrics = set_.target_metrics(outcomes, {0.5: 0.80, 0.9: 0.80}, 0.30, (3,))
    # 0.5: 0.78 - 0.30 = 0.48 >= 0.95 * 0.50 at the third trial; 0.60 is not (a ratio of
    # scores, 0.60 / 0.80 = 0.75, would be just as far off but 0.78 / 0.80 would count)
    assert metrics[0.5]["trials_to_target"] == 3
    assert metrics[0.9]["trials_to_target"] == 2


def test_target_runner_prints_a_table_per_target(tmp_path, capsys):
    import search_efficiency_targets as set_

    code = set_.main(["--table", str(_target_table(tmp_path, 45)), "--samplers", "random,tpe",
                      "--seeds", "2", "--max-trials", "9", "--early-stop", "off", "--force",
                      "--json", str(tmp_path / "out.json")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "| 0.97 (table best" in out and "random/no-es" in out and "tpe/no-es" in out
    report = json.loads((tmp_path / "out.json").read_text())
    assert set(report["results"]["random/no-es"]) == {"0.5", "0.9", "0.97"}


def test_a_table_without_targets_is_refused_in_one_line(tmp_path, capsys):
    import search_efficiency_targets as set_

    assert set_.main(["--table", str(TINY)]) == 2
    assert "no target_sparsity column" in capsys.readouterr().err


def test_the_benchmarks_use_the_reference_analysis_pareto_uses(tmp_path):
    from search_surrogate import load_table

    # a table recording the measured majority (schema 3 rows): that value, named
    score, source = se.reference_majority(load_table(_target_table(tmp_path)), "qqp")
    assert score == 0.3185 and "measured on the 1000 evaluated rows" in source
    # an old table without it: the labelled full-dev-set value, not the chance level
    score, source = se.reference_majority(load_table(TINY), "sst2")
    assert score != 0.5 and "table" in source
