"""The default report adds a score-against-speed-up view when trials measured speed-up."""

from __future__ import annotations

import json

import pandas as pd
import pyarrow.parquet as pq
from analysis_fixtures import CAP_TRIALS, file_name, trial_rows

from analysis import schema
from analysis.cli import main

SPEEDUPS = {"c1": 1.0, "c2": 1.1, "c3": 2.6, "c4": 1.05, "c5": 2.5}


def _experiment(root, with_speedup: bool):
    exp = root / "cap"
    (exp / "results").mkdir(parents=True)
    (exp / "experiment.json").write_text(json.dumps({"name": "cap", "space": "cap_soft_sst2",
                                                     "profile": "demo"}))
    for trial in CAP_TRIALS:
        for row in trial_rows(trial, experiment="cap", method="cap-soft", task="sst2",
                              space="cap_soft_sst2"):
            if with_speedup and row[schema.IS_FINAL] and trial["trial_id"] in SPEEDUPS:
                row[schema.SPEEDUP] = SPEEDUPS[trial["trial_id"]]
            pq.write_table(schema.rows_to_table([row]), exp / "results" / file_name(row))
    return exp


def test_speedup_view_is_added_when_the_column_has_values(tmp_path, capsys):
    exp = _experiment(tmp_path, with_speedup=True)
    assert main(["pareto", str(exp)]) == 0
    report = exp / "report"
    assert (report / "pareto_speedup.png").read_bytes()[:4] == b"\x89PNG"
    front = pd.read_csv(report / "pareto_speedup.csv")
    # c3 (2.6x at 0.70) and c5 (2.5x, 0.75) and c2 (1.1x, 0.88) and c1 (1.0x, 0.90) trade off;
    # c4 (1.05x, 0.80) is dominated by c2
    assert set(front[schema.TRIAL_ID]) == {"c1", "c2", "c3", "c5"}
    assert set(pd.read_csv(report / "pareto.csv")[schema.TRIAL_ID]) == {"c1", "c2", "c5"}


def test_no_speedup_view_without_values_or_when_speedup_is_an_axis(tmp_path):
    plain = _experiment(tmp_path / "a", with_speedup=False)
    assert main(["pareto", str(plain), "--no-plot"]) == 0
    assert not list((plain / "report").glob("pareto_speedup*"))
    measured = _experiment(tmp_path / "b", with_speedup=True)
    assert main(["pareto", str(measured), "--no-plot", "--x", "speedup"]) == 0
    assert not list((measured / "report").glob("pareto_speedup*"))
    assert "c3" in set(pd.read_csv(measured / "report" / "pareto.csv")[schema.TRIAL_ID])
