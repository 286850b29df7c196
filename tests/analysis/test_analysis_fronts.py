"""Fronts per group, trial states and counts, summaries, history and comparison."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from analysis_fixtures import CAP_FRONT
from analysis_fixtures import CAP_TRIALS
from analysis_fixtures import SMP_FRONT

from analysis import schema
from analysis.compare import compare_experiments
from analysis.compare import winner_ranges
from analysis.errors import AnalysisError
from analysis.fronts import pareto_fronts
from analysis.fronts import trial_order
from analysis.history import history_frame
from analysis.io import read_experiment
from analysis.io import read_experiments
from analysis.summary import summarize


@pytest.fixture
def all_sst2(sst2_experiments) -> pd.DataFrame:
    return read_experiments(list(sst2_experiments.values()))


def test_fronts_per_method_with_counts(all_sst2: pd.DataFrame) -> None:
    fronts = pareto_fronts(all_sst2)
    front = fronts.front
    assert set(front[front[schema.METHOD] == "cap-soft"][schema.TRIAL_ID]) == CAP_FRONT
    assert set(front[front[schema.METHOD] == "smp"][schema.TRIAL_ID]) == SMP_FRONT
    assert set(front[front[schema.METHOD] == "dense"][schema.TRIAL_ID]) == {"d1"}
    cap = fronts.counts.loc[("sst2", "cap-soft")]
    assert cap.to_dict() == {
        "trials": 10, "on_front": 3, "completed": 5, "collapsed": 0, "nan_objective": 1,
        "failed": 1,
        "diverged": 1, "pruned": 1, "in_progress": 1, "other": 0,
    }
    # only completed final rows with finite objectives are points at all
    assert set(fronts.points[schema.TRIAL_ID]) == {"c1", "c2", "c3", "c4", "c5", "s1", "s2",
                                                   "s3", "d1"}
    assert fronts.points[schema.IS_FINAL].all()


def test_knee_and_hypervolume_per_group(all_sst2: pd.DataFrame) -> None:
    summary = summarize(pareto_fronts(all_sst2))
    cap = summary.groups.loc[("sst2", "cap-soft")]
    assert cap["knee_trial"] == "c2"
    # reference (0, m), m = SST-2's majority-class score: slabs 0.1*(0.9-m) + 0.4*(0.88-m)
    # + 0.4*(0.75-m)
    m = 444 / 872
    assert cap["hypervolume"] == pytest.approx(0.1 * (0.9 - m) + 0.4 * (0.88 - m)
                                               + 0.4 * (0.75 - m))
    assert summary.groups.loc[("sst2", "dense"), "hypervolume"] == 0.0  # sparsity 0 = ref
    assert summary.references["sst2"].point == {"weight_sparsity": 0.0, "score": m}


def test_dense_baseline_is_the_best_dense_score(all_sst2: pd.DataFrame) -> None:
    fronts = pareto_fronts(all_sst2)
    assert fronts.baseline.loc["sst2", "score"] == 0.92


def test_a_dense_experiment_alone_is_a_one_point_front(sst2_experiments) -> None:
    fronts = pareto_fronts(read_experiment(sst2_experiments["dense"]))
    summary = summarize(fronts)
    assert len(fronts.front) == 1 and fronts.front[schema.IS_FINAL].all()
    assert summary.groups.loc[("sst2", "dense"), "knee_trial"] == "d1"


def test_a_group_with_a_single_point(make_experiment) -> None:
    exp = make_experiment("one", [{"trial_id": "x", "score": 0.8, "weight_sparsity": 0.5}])
    summary = summarize(pareto_fronts(read_experiment(exp)))
    row = summary.groups.loc[("sst2", "cap-soft")]
    assert row["on_front"] == 1 and row["knee_trial"] == "x"
    assert row["hypervolume"] == pytest.approx(0.5 * (0.8 - 444 / 872))


def test_fronts_are_per_task(make_experiment) -> None:
    a = make_experiment("a", CAP_TRIALS[:3], task="sst2")
    b = make_experiment("b", CAP_TRIALS[:3], task="cola")
    summary = summarize(pareto_fronts(read_experiments([a, b])))
    assert set(summary.groups.index) == {("sst2", "cap-soft"), ("cola", "cap-soft")}
    assert summary.references["cola"].point["score"] == 0.0


def test_group_by_experiment(make_experiment) -> None:
    a = make_experiment("a", CAP_TRIALS[:3])
    b = make_experiment("b", CAP_TRIALS[3:5])
    fronts = pareto_fronts(read_experiments([a, b]), group_by=("experiment",))
    assert set(fronts.front["group"]) == {"a", "b"}
    with pytest.raises(AnalysisError, match="group column.*nope"):
        pareto_fronts(read_experiments([a]), group_by=("nope",))


def test_a_trial_without_a_final_row_is_in_progress(make_experiment) -> None:
    exp = make_experiment("live", [{"trial_id": "r", "score": 0.9, "weight_sparsity": 0.5,
                                    "status": "running", "iterations": 3}])
    fronts = pareto_fronts(read_experiment(exp))
    assert fronts.counts["in_progress"].sum() == 1 and fronts.points.empty


def test_the_final_row_decides_not_the_last_iteration() -> None:
    rows = [
        {schema.EXPERIMENT: "e", schema.TASK: "sst2", schema.METHOD: "smp",
         schema.TRIAL_ID: "t", schema.ITERATION: it, schema.STEP: it, schema.IS_FINAL: fin,
         schema.STATUS: st, schema.SCORE: sc, schema.WEIGHT_SPARSITY: 0.5}
        for it, fin, st, sc in [(1, False, "running", 0.6), (2, True, "completed", 0.8)]
    ]
    df = schema.rows_to_table(rows).to_pandas().iloc[::-1]
    fronts = pareto_fronts(df)
    assert fronts.front[schema.SCORE].tolist() == [0.8]


def test_three_objectives(all_sst2: pd.DataFrame) -> None:
    objectives = {"weight_sparsity": "max", "score": "max", "head_sparsity": "min"}
    summary = summarize(pareto_fronts(all_sst2, objectives))
    assert summary.groups["hypervolume"].notna().all()


def test_trial_order_is_natural() -> None:
    ids = ["abc_00010", "abc_00002", "abc_00001"]
    assert [ids[i] for i in trial_order(ids)] == ["abc_00001", "abc_00002", "abc_00010"]


def test_history_grows_in_trial_order(sst2_experiments) -> None:
    df = read_experiments([sst2_experiments["cap"], sst2_experiments["smp"]])
    table = history_frame(df)
    cap = table[table[schema.EXPERIMENT] == "cap_sst2"]
    assert cap[schema.TRIAL_ID].tolist()[:3] == ["c1", "c2", "c3"]
    assert cap["trial_number"].tolist() == list(range(1, 11))
    assert np.all(np.diff(cap["hypervolume"]) >= 0)
    assert cap["hypervolume"].iloc[-1] == pytest.approx(0.283743, abs=1e-6)
    states = dict(zip(cap[schema.TRIAL_ID], cap["state"]))
    assert states["c6"] == "failed" and states["c9"] == "nan_objective"


def test_compare_says_who_wins_where(sst2_experiments) -> None:
    cap = read_experiment(sst2_experiments["cap"])
    smp = read_experiment(sst2_experiments["smp"])
    result = compare_experiments(cap, smp, labels=("cap", "smp"))
    hv = result.hypervolumes.set_index("experiment")
    assert hv.loc["cap", "hypervolume"] == pytest.approx(0.283743, abs=1e-6)
    assert hv.loc["cap", "covers_other"] == 0.5 and hv.loc["smp", "covers_other"] == 0.0
    ranges = [(lo, hi, w) for _, lo, hi, w in winner_ranges(result.intervals)]
    assert ranges == [(0.0, 0.1, "cap"), (0.1, 0.2, "smp"), (0.2, 0.9, "cap")]


def test_compare_an_experiment_with_itself_is_a_tie(sst2_experiments) -> None:
    cap = read_experiment(sst2_experiments["cap"])
    result = compare_experiments(cap, cap, labels=("x", "y"))
    assert set(result.intervals["winner"]) == {"tie"}
    assert result.hypervolumes["covers_other"].tolist() == [1.0, 1.0]


@pytest.mark.parametrize("seed", range(20))
def test_latest_files_give_the_same_fronts_as_all_files(seed: int, make_experiment) -> None:
    rng = np.random.default_rng(seed)
    statuses = ["completed"] * 6 + ["failed", "diverged", "pruned", "running"]
    trials = [{"trial_id": f"t_{i:05d}", "score": float(rng.choice([rng.random(), np.nan],
                                                                    p=[0.9, 0.1])),
               "weight_sparsity": float(rng.integers(0, 5) / 5), "iterations": int(
                   rng.integers(1, 4)), "status": str(rng.choice(statuses))}
              for i in range(int(rng.integers(1, 25)))]
    exp = make_experiment(f"e{seed}", trials)
    full = pareto_fronts(read_experiment(exp))
    latest = pareto_fronts(read_experiment(exp, latest_only=True))
    pd.testing.assert_frame_equal(full.counts, latest.counts)
    cols = [schema.TRIAL_ID, "on_front", "is_knee", schema.SCORE]
    pd.testing.assert_frame_equal(full.points[cols], latest.points[cols])


def test_a_retried_trial_is_judged_by_its_completed_row_at_the_same_iteration() -> None:
    """`resume` retries a trial marked failed; when its final row lands on the iteration its
    terminal row took (last + 1), the completed row decides, in either file order."""
    from analysis.fronts import decisive_rows

    common = {schema.EXPERIMENT: "e", schema.TRIAL_ID: "t", schema.IS_FINAL: True}
    failed = {**common, schema.ITERATION: 3, schema.STEP: 10, schema.STATUS: "failed"}
    done = {**common, schema.ITERATION: 3, schema.STEP: 10, schema.STATUS: "completed"}
    for rows in ([failed, done], [done, failed]):
        decisive = decisive_rows(pd.DataFrame(rows))
        assert decisive[schema.STATUS].tolist() == ["completed"]


def test_collapsed_trials_are_counted_not_drawn_unless_asked(all_sst2: pd.DataFrame) -> None:
    # c2 is on the cap-soft front; marked collapsed (its score within noise of the majority
    # class measured on its rows), it leaves the front and is counted instead.
    rows = all_sst2.copy()
    rows[schema.COLLAPSED] = (rows[schema.TRIAL_ID] == "c2") & rows[schema.IS_FINAL]
    fronts = pareto_fronts(rows)
    assert "c2" not in set(fronts.points[schema.TRIAL_ID])
    assert fronts.counts.loc[("sst2", "cap-soft"), "collapsed"] == 1
    assert fronts.counts.loc[("sst2", "cap-soft"), "completed"] == 4
    kept = pareto_fronts(rows, include_collapsed=True)
    assert "c2" in set(kept.front[schema.TRIAL_ID])
    assert kept.counts.loc[("sst2", "cap-soft"), "collapsed"] == 1  # still counted
    # rows written before schema 3 have no flag: judged as before
    assert pareto_fronts(all_sst2.drop(columns=[schema.COLLAPSED], errors="ignore")).counts.loc[
        ("sst2", "cap-soft"), "collapsed"] == 0


def test_front_neighbours_within_noise_are_named() -> None:
    # Three front points of one group: 0.80 and 0.78 differ by less than
    # 2 * sqrt(0.01^2 + 0.01^2) = 0.028 (a tie); 0.78 and 0.60 by far more.
    rows = pd.DataFrame({
        schema.EXPERIMENT: "e", schema.TASK: "sst2", schema.METHOD: "cap-soft",
        schema.TRIAL_ID: ["a", "b", "c"], schema.STATUS: schema.STATUS_COMPLETED,
        schema.IS_FINAL: True, schema.ITERATION: 1, schema.STEP: 10,
        schema.SCORE: [0.80, 0.78, 0.60], schema.SCORE_SE: [0.01, 0.01, 0.01],
        schema.WEIGHT_SPARSITY: [0.5, 0.7, 0.9],
    })
    from analysis.fronts import TIED_WITH

    front = pareto_fronts(rows).front.set_index(schema.TRIAL_ID)
    assert front[TIED_WITH].to_dict() == {"a": "b", "b": "a", "c": ""}
    # without standard errors (rows before schema 3) nothing is claimed
    old = pareto_fronts(rows.drop(columns=[schema.SCORE_SE])).front
    assert (old[TIED_WITH] == "").all()
