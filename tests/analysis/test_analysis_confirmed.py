"""Confirmed points on synthetic rows: the t-interval, the link to EXP-confirm, the reports.

A search experiment (``make_experiment``) and a confirmation written beside it the way
``python -m orchestrator confirm`` writes one: an experiment.json whose ``confirms`` names the
source, the trials and each run's seed, and one completed trial per run whose ``seed`` column
names the run. The dense reference an SMP sweep records is checked here too.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from analysis_fixtures import SMP_TRIALS
from analysis_fixtures import file_name
from analysis_fixtures import trial_rows

from analysis import schema
from analysis.cli import main
from analysis.confirmed import confirmations_of
from analysis.confirmed import confirmed_table
from analysis.confirmed import read_confirmations
from analysis.confirmed import t_interval
from analysis.confirmed import t_quantile_975
from analysis.dense_reference import dense_reference
from analysis.io import experiment_info
from analysis.io import read_experiment

#: run seed -> (confirmed trial, score, score_se, weight_sparsity)
RUNS = {101: ("s1", 0.86, 0.011, 0.20), 102: ("s1", 0.88, 0.011, 0.20),
        103: ("s1", 0.87, 0.011, 0.20),
        104: ("s3", 0.80, 0.012, 0.30), 105: ("s3", 0.84, 0.012, 0.30),
        106: ("s3", 0.82, 0.012, 0.30)}


def write_confirmation(source: Path, runs=RUNS, name: str | None = None,
                       link: bool = True, unfinished: int = 0) -> Path:
    """A confirmation of ``source`` beside it; the last ``unfinished`` runs have no rows."""
    name = name or f"{source.name}-confirm"
    exp = source.parent / name
    (exp / "results").mkdir(parents=True)
    trials = list(dict.fromkeys(t for t, *_ in runs.values()))
    record = {"name": name, "space": "smp_sst2", "profile": "smoke", "confirms": {
        "experiment": source.name, "selection": "front", "trials": trials,
        "seeds_per_trial": 3, "full_eval": False,
        "runs": [{"trial": t, "seed": s} for s, (t, *_) in runs.items()]}}
    (exp / "experiment.json").write_text(json.dumps(record))
    if link:
        info = json.loads((source / "experiment.json").read_text())
        info["confirmed_by"] = [name]
        (source / "experiment.json").write_text(json.dumps(info))
    for i, (seed, (_, score, se, sparsity)) in enumerate(list(runs.items())[
            :len(runs) - unfinished]):
        row = {schema.EXPERIMENT: name, schema.SPACE: "smp_sst2", schema.METHOD: "smp",
               schema.TASK: "sst2", schema.PROFILE: "smoke", schema.TRIAL_ID: f"r{i}",
               schema.SEED: seed, schema.ITERATION: 1, schema.STEP: 10, schema.IS_FINAL: True,
               schema.STATUS: schema.STATUS_COMPLETED, schema.SCORE: score,
               schema.SCORE_SE: se, schema.EVAL_EXAMPLES: 872, schema.COLLAPSED: False,
               schema.WEIGHT_SPARSITY: sparsity}
        pq.write_table(schema.rows_to_table([row]), exp / "results" / f"r{i}-it000001.parquet")
    return exp


def test_t_interval_matches_the_textbook_values():
    assert t_quantile_975(1) == pytest.approx(12.706)
    assert t_quantile_975(30) == pytest.approx(2.042)
    assert t_quantile_975(60) == pytest.approx(2.000, abs=1e-3)  # the expansion beyond 30
    assert t_quantile_975(120) == pytest.approx(1.980, abs=1e-3)
    mean, half, sd = t_interval([0.86, 0.88, 0.87])
    assert mean == pytest.approx(0.87) and sd == pytest.approx(0.01)
    assert half == pytest.approx(4.303 * 0.01 / math.sqrt(3))
    mean, half, sd = t_interval([0.5])  # one seed: a mean, no interval
    assert mean == 0.5 and math.isnan(half) and math.isnan(sd)


def test_confirmed_table_per_trial_from_the_run_seeds(make_experiment):
    source = make_experiment("smp_sst2", SMP_TRIALS, method="smp")
    conf = write_confirmation(source, unfinished=1)
    table = confirmed_table(read_experiment(source), read_experiment(conf),
                            experiment_info(conf)).set_index("trial_id")
    assert list(table.index) == ["s1", "s3"]
    s1, s3 = table.loc["s1"], table.loc["s3"]
    assert s1["seeds"] == 3 and s1["seeds_planned"] == 3
    assert s3["seeds"] == 2 and s3["seeds_planned"] == 3  # the last run has not finished
    assert s1["score_mean"] == pytest.approx(0.87)
    assert s1["score_ci95"] == pytest.approx(4.303 * 0.01 / math.sqrt(3))
    assert s1["score_low"] == pytest.approx(0.87 - s1["score_ci95"])
    assert s3["score_mean"] == pytest.approx(0.82)  # 0.80 and 0.84
    assert s3["score_ci95"] == pytest.approx(12.706 * math.sqrt(0.0008) / math.sqrt(2))
    assert s1["search_score"] == pytest.approx(0.89)  # SMP_TRIALS' single-seed s1
    assert s1["mean_score_se"] == pytest.approx(0.011)
    assert s1["spread_over_se"] == pytest.approx(0.01 / 0.011)
    assert s1["eval_examples"] == 872 and s1["weight_sparsity_mean"] == pytest.approx(0.2)


def test_found_beside_the_experiment_with_or_without_the_link(make_experiment):
    source = make_experiment("smp_sst2", SMP_TRIALS, method="smp")
    assert confirmations_of(str(source), experiment_info(source)) == []
    write_confirmation(source, link=False)  # found by its default name alone
    found = confirmations_of(str(source), experiment_info(source))
    assert [Path(p).name for p, _ in found] == ["smp_sst2-confirm"]
    other = make_experiment("other", SMP_TRIALS, method="smp")
    write_confirmation(other, name="renamed")  # found through confirmed_by
    found = confirmations_of(str(other), experiment_info(other))
    assert [Path(p).name for p, _ in found] == ["renamed"]


def test_confirmed_front_marks_points_that_stay_non_dominated(make_experiment):
    source = make_experiment("smp_sst2", SMP_TRIALS, method="smp")
    runs = {**RUNS, 104: ("s3", 0.90, 0.012, 0.30), 105: ("s3", 0.92, 0.012, 0.30),
            106: ("s3", 0.91, 0.012, 0.30)}  # s3 beats s1 on both once confirmed
    write_confirmation(source, runs=runs)
    table = read_confirmations([str(source)], [experiment_info(source)],
                               read_experiment(source)).set_index("trial_id")
    assert not table.loc["s1", "confirmed_on_front"]
    assert table.loc["s3", "confirmed_on_front"]


def test_pareto_report_and_table_show_confirmed_points(make_experiment, capsys):
    source = make_experiment("smp_sst2", SMP_TRIALS, method="smp")
    write_confirmation(source)
    assert main(["pareto", str(source)]) == 0
    out = capsys.readouterr().out
    assert "Confirmed points" in out and "0.8700 +- 0.0248" in out
    assert "2 of 2 stay non-dominated" in out
    report = source / "report"
    assert "## Confirmed points" in (report / "summary.md").read_text()
    csv = pd.read_csv(report / "confirmed.csv")
    assert set(csv["trial_id"]) == {"s1", "s3"} and set(csv["seeds"]) == {3}
    assert "Confirmed points" in (report / "index.html").read_text()
    assert (report / "pareto.png").stat().st_size > 0

    assert main(["table", str(source), "--targets", "0.2,0.3", "--tolerance", "0.001"]) == 0
    out = capsys.readouterr().out
    assert "0.8700 +- 0.0248" in out and "0.8200 +- " in out
    table = pd.read_csv(report / "targets.csv").set_index("target")
    assert table.loc[0.2, "confirmed_seeds"] == 3
    assert table.loc[0.2, "confirmed_mean"] == pytest.approx(0.87)
    assert table.loc[0.3, "confirmed_ci95"] > 0


def test_without_a_confirmation_reports_are_unchanged(make_experiment, capsys):
    source = make_experiment("smp_sst2", SMP_TRIALS, method="smp")
    assert main(["pareto", str(source)]) == 0
    assert "Confirmed" not in capsys.readouterr().out
    assert not (source / "report" / "confirmed.csv").exists()


def test_recorded_dense_reference_is_drawn_and_listed_with_its_se(make_experiment, capsys):
    source = make_experiment("smp_sst2", SMP_TRIALS, method="smp")
    info = json.loads((source / "experiment.json").read_text())
    info.update({"settings": {"task": "sst2"}, "dense_baseline": {
        "score": 0.91, "score_se": 0.0097, "eval_examples": 872, "artifact": "/a/b"}})
    (source / "experiment.json").write_text(json.dumps(info))
    base = dense_reference(info)
    assert (base.task, base.kind, base.score, base.se) == ("sst2", "dense", 0.91, 0.0097)
    assert dense_reference({"dense_baseline": {"error": "out of memory"}}) is None
    assert dense_reference({}) is None
    assert main(["pareto", str(source)]) == 0
    out = capsys.readouterr().out
    assert "dense fine-tune score (sst2): 0.91 +- 0.0097" in out
    assert "measured on 872 evaluated rows" in out
    summary = (source / "report" / "summary.md").read_text()
    assert "| sst2 | dense fine-tune | 0.91 | 0.0097 |" in summary
    assert main(["table", str(source), "--targets", "0.2"]) == 0
    table = pd.read_csv(source / "report" / "targets.csv")
    assert table.loc[0, "dense_score"] == pytest.approx(0.91)


def test_all_collapsed_front_still_draws_its_references(make_experiment, capsys):
    """Every trial collapsed: an empty front, but the majority line stays (issue 25)."""
    from analysis.fronts import pareto_fronts
    from analysis.summary import summarize

    source = make_experiment("smp_sst2", [], method="smp")
    for trial in SMP_TRIALS:  # every trial at the majority score of its 872 rows
        for row in trial_rows(trial, experiment="smp_sst2", method="smp", task="sst2",
                              space="smp_sst2"):
            row.update({schema.COLLAPSED: True, schema.MAJORITY_SCORE: 0.5092,
                        schema.EVAL_EXAMPLES: 872})
            pq.write_table(schema.rows_to_table([row]), source / "results" / file_name(row))
    rows = read_experiment(source)
    fronts = pareto_fronts(rows)
    assert fronts.points.empty
    from analysis.commands import load_each, recorded_baselines

    args = type("A", (), {"experiments": [str(source)], "strict": False,
                          "latest_only": False, "all_files": False})()
    majority, others, _ = recorded_baselines(load_each(args))
    summary = summarize(fronts, None, majority, others)
    assert [(b.task, b.kind) for b in summary.baselines] == [("sst2", "majority")]
    assert main(["pareto", str(source)]) == 0
    out = capsys.readouterr().out
    assert "majority class score (sst2): 0.5092" in out
    html = (source / "report" / "index.html").read_text()
    assert 'data-kind="majority"' in html  # the panel and its line, though no point
