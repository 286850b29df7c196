"""``python -m analysis table``: the best score at each target sparsity."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest
from analysis_fixtures import file_name, trial_rows

from analysis import schema as S
from analysis.cli import main
from analysis.io import read_experiments
from analysis.target_table import target_table

AIMED = [  # a --targets sweep: (trial, score, achieved, aimed at)
    ("a1", 0.80, 0.62, 0.5), ("a2", 0.85, 0.505, 0.5), ("a3", 0.70, 0.896, 0.9),
    ("a4", 0.74, 0.905, 0.9), ("a5", 0.60, 0.97, 0.97),
]


def _aimed_experiment(root):
    exp = root / "aimed"
    (exp / "results").mkdir(parents=True)
    for trial_id, score, achieved, target in AIMED:
        trial = {"trial_id": trial_id, "score": score, "weight_sparsity": achieved}
        for row in trial_rows(trial, experiment="aimed", method="cap-soft", task="qqp",
                              space="cap_soft_qqp"):
            row[S.TARGET_SPARSITY] = target
            row[S.PREDICTED_SPARSITY] = target
            pq.write_table(S.rows_to_table([row]), exp / "results" / file_name(row))
    return exp


def test_best_score_within_the_tolerance_of_each_target(sst2_experiments):
    df = read_experiments([str(p) for p in sst2_experiments.values()])
    table = target_table(df, (0.2, 0.5, 0.9), tolerance=0.01)
    cap = table[table["group"] == "cap-soft"].set_index("target")
    assert cap.loc[0.5, "trial_id"] == "c2" and cap.loc[0.5, "best_score"] == 0.88
    # c3 and c5 both at 0.9 (c9 is NaN, c6-c8 did not complete): the better one wins
    assert cap.loc[0.9, "trial_id"] == "c5" and cap.loc[0.9, "within"] == 2
    assert pd_isna(cap.loc[0.2, "best_score"]) and cap.loc[0.2, "within"] == 0
    smp = table[table["group"] == "smp"].set_index("target")
    assert smp.loc[0.2, "trial_id"] == "s1"
    assert (table["dense_score"] == 0.92).all() and (table["served"] == 0).all()
    assert "dense" not in set(table["group"])


def pd_isna(value) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def test_table_cli_prints_and_writes_md_and_csv(tmp_path, capsys):
    exp = _aimed_experiment(tmp_path)
    assert main(["table", str(exp), "--tolerance", "0.01"]) == 0  # targets from the rows
    out = capsys.readouterr().out
    assert "| qqp | cap-soft | 0.5 | 0.8500 | a2 | 0.5050 | 1 | 2 |" in out
    assert "| qqp | cap-soft | 0.9 | 0.7400 | a4 | 0.9050 | 2 | 2 |" in out
    assert (exp / "report" / "targets.md").is_file()
    assert "best_score" in (exp / "report" / "targets.csv").read_text()


def test_table_shows_the_cap_teacher_beside_cap_rows_only(tmp_path, capsys):
    exp = _aimed_experiment(tmp_path)
    (exp / "experiment.json").write_text(json.dumps({"trainable": "cap", "teacher_score": 0.9123}))
    assert main(["table", str(exp), "--tolerance", "0.01"]) == 0
    out = capsys.readouterr().out
    assert "| dense | teacher |" in out
    assert "| qqp | cap-soft | 0.5 | 0.8500 | a2 | 0.5050 | 1 | 2 | - | 0.9123 |" in out
    csv = (exp / "report" / "targets.csv").read_text()
    assert "teacher_score" in csv and "0.9123" in csv


def test_teacher_score_is_not_put_beside_smp_rows(sst2_experiments):
    df = read_experiments([str(p) for p in sst2_experiments.values()])
    table = target_table(df, (0.5,), tolerance=0.01, teacher_scores={"sst2": 0.95})
    by_group = table.set_index("group")["teacher_score"]
    assert by_group["cap-soft"] == 0.95 and pd_isna(by_group["smp"])


def test_pareto_report_gains_the_table_for_target_sweeps(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    exp = _aimed_experiment(tmp_path)
    assert main(["pareto", str(exp)]) == 0
    assert "## At target sparsities" in (exp / "report" / "summary.md").read_text()
    assert "At target sparsities" in (exp / "report" / "index.html").read_text()


@pytest.mark.parametrize(("args", "says"), [
    (["--targets", "0.5,,0.9"], "comma-separated"), (["--targets", "1.5"], "outside (0, 1)"),
    (["--targets", "0.5,0.5"], "given twice"), (["--tolerance", "0"], "--tolerance"),
    ([], "no --targets given"),
])
def test_table_bad_input_is_one_line_and_exit_2(sst2_experiments, capsys, args, says):
    assert main(["table", str(sst2_experiments["cap"]), *args]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and says in err[0], err
