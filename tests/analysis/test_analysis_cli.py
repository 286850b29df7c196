"""``python -m analysis``: report files from fixture experiments, errors, import hygiene."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from analysis_fixtures import CAP_FRONT
from analysis_fixtures import CAP_TRIALS
from analysis_fixtures import DENSE_TRIALS
from analysis_fixtures import SMP_FRONT
from analysis_fixtures import SMP_TRIALS
from analysis_fixtures import write_experiment

from analysis import schema
from analysis.cli import main

REPORT_FILES = {"pareto.parquet", "pareto.csv", "summary.md", "pareto.png", "index.html"}


@pytest.fixture(scope="module")
def joint_report(tmp_path_factory) -> tuple[Path, str]:
    """One report over CAP, SMP and dense experiments on SST-2 (built once per module)."""
    root = tmp_path_factory.mktemp("joint")
    exps = [write_experiment(root, name, trials, method=method)
            for name, trials, method in (("cap_sst2", CAP_TRIALS, "cap-soft"),
                                         ("smp_sst2", SMP_TRIALS, "smp"),
                                         ("dense_sst2", DENSE_TRIALS, "dense"))]
    out = root / "report"
    console = io.StringIO()
    with contextlib.redirect_stdout(console):
        assert main(["pareto", *map(str, exps), "--out", str(out)]) == 0
    return out, console.getvalue()


def test_single_experiment_writes_its_report_folder(sst2_experiments, capsys) -> None:
    assert main(["pareto", str(sst2_experiments["cap"]), "--no-plot"]) == 0
    report = sst2_experiments["cap"] / "report"
    assert {p.name for p in report.iterdir()} == {"pareto.parquet", "pareto.csv", "summary.md"}
    assert set(pd.read_csv(report / "pareto.csv")[schema.TRIAL_ID]) == CAP_FRONT
    out = capsys.readouterr().out
    assert "1 failed, 1 diverged, 1 pruned, 1 nan objective, 1 in progress" in out


def test_joint_report_files_hold_the_expected_rows(joint_report) -> None:
    out, console = joint_report
    assert {p.name for p in out.iterdir()} == REPORT_FILES
    csv = pd.read_csv(out / "pareto.csv")
    parquet = pq.read_table(out / "pareto.parquet").to_pandas()
    assert set(csv[schema.TRIAL_ID]) == CAP_FRONT | SMP_FRONT | {"d1"}
    assert parquet[schema.TRIAL_ID].tolist() == csv[schema.TRIAL_ID].tolist()
    knees = csv[csv["is_knee"]].set_index("group")[schema.TRIAL_ID].to_dict()
    # smp's two points tie as knee: the one with the better first objective (sparsity) wins
    assert knees == {"cap-soft": "c2", "dense": "d1", "smp": "s3"}
    assert csv.loc[csv[schema.TRIAL_ID] == "c2", "param_lr"].item() == pytest.approx(2e-4)
    for trial in CAP_FRONT | SMP_FRONT:
        assert re.search(rf"\b{trial}\b", console)


def test_summary_md_rows_and_notes(joint_report) -> None:
    md = (joint_report[0] / "summary.md").read_text()
    rows = [line for line in md.splitlines() if line.startswith("| sst2 |")]
    groups = [r.split(" | ")[1] for r in rows]
    # each method's front, then the front across all methods of the task, then baselines
    assert groups[:4] == ["cap-soft", "dense", "smp", "(all)"]
    # reference score = SST-2's majority-class score 444/872 = 0.5092
    assert "| sst2 | cap-soft | 10 | 3 | 5 | 0 | 1 | 1 | 1 | 1 | 1 | 0 | 0.2837 | c2 |" in md
    assert "| sst2 | (all) | 14 | 5 | 9 | 0 | 1 | 1 | 1 | 1 | 1 | 0 |" in md
    assert "reference point (sst2): weight_sparsity=0, score=0.5092" in md
    assert "majority-class score 0.5092 (full GLUE dev set (table))" in md
    assert "dense baseline (sst2): weight_sparsity=0, score=0.92" in md
    assert "| sst2 | majority class | 0.5092 |" in md and "| sst2 | dense fine-tune | 0.92 |" in md


def test_html_is_self_contained_with_one_circle_per_trial(joint_report) -> None:
    html = (joint_report[0] / "index.html").read_text()
    points = re.findall(r'<circle class="point" data-trial-id="([^"]+)"[^>]*data-front="(\d)"',
                        html)
    assert sorted(t for t, _ in points) == sorted(
        ["c1", "c2", "c3", "c4", "c5", "s1", "s2", "s3", "d1"])
    assert sorted(t for t, f in points if f == "1") == sorted(CAP_FRONT | SMP_FRONT | {"d1"})
    assert html.count('class="knee-mark"') == 3 and html.count('class="baseline"') == 2
    assert 'data-kind="majority"' in html and 'data-kind="dense"' in html
    assert html.count('<path class="task-front"') == 1
    assert html.count('<path class="front"') == 2  # cap-soft and smp; dense has one point
    assert "trial c2  (knee)\nweight_sparsity = 0.5\nscore = 0.88" in html
    assert "param_lr = 0.0002" in html and "param_ratio = 0.3" in html
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<link" not in html and "<script src" not in html


def test_png_is_a_png(joint_report) -> None:
    data = (joint_report[0] / "pareto.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_history_and_compare(sst2_experiments, tmp_path: Path, capsys) -> None:
    cap, smp = str(sst2_experiments["cap"]), str(sst2_experiments["smp"])
    assert main(["history", cap, "--out", str(tmp_path / "h")]) == 0
    out = capsys.readouterr().out
    assert "cap_sst2 (sst2): 10 trials, final hypervolume 0.2837" in out
    assert (tmp_path / "h" / "history.png").exists()
    assert len(pd.read_csv(tmp_path / "h" / "history.csv")) == 10
    assert main(["compare", cap, smp, "--out", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert "weight_sparsity 0.1 .. 0.2: smp_sst2" in out
    assert "A = " in (tmp_path / "c" / "compare.md").read_text()


def _error(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and "Traceback" not in "\n".join(err)
    return err[-1]


def test_bad_input_gives_one_line_and_exit_2(tmp_path: Path, make_experiment, capsys) -> None:
    (tmp_path / "empty").mkdir()
    assert "is empty" in _error(["pareto", str(tmp_path / "empty")], capsys)
    (tmp_path / "nores" / "results").mkdir(parents=True)
    assert "no result files" in _error(["pareto", str(tmp_path / "nores")], capsys)
    exp = make_experiment("cap", CAP_TRIALS[:2])
    assert "'accuracy' is not in the results" not in _error(
        ["pareto", str(exp), "--y", "acuracy"], capsys)
    assert "did you mean accuracy" in _error(["pareto", str(exp), "--y", "acuracy"], capsys)
    assert "needs --out" in _error(["pareto", str(exp), str(exp)], capsys)
    assert "COL=NUMBER" in _error(["pareto", str(exp), "--ref", "score"], capsys)
    assert "direction 'up'" in _error(["pareto", str(exp), "--y", "score:up"], capsys)
    pq.write_table(schema.rows_to_table([{schema.TRIAL_ID: "f", schema.SCHEMA_VERSION_COL: schema.SCHEMA_VERSION + 1}]),
                   exp / "results" / "f.parquet")
    assert f"schema_version {schema.SCHEMA_VERSION + 1}" in _error(["pareto", str(exp)], capsys)
    with pytest.raises(schema.SchemaError):
        main(["--debug", "pareto", str(exp)])


def test_skipped_files_are_reported_as_warnings(make_experiment, capsys) -> None:
    exp = make_experiment("cap", CAP_TRIALS[:2])
    (exp / "results" / "junk.parquet").write_bytes(b"nope")
    assert main(["pareto", str(exp), "--no-plot"]) == 0
    assert re.search(r"^warning: skipping .*junk\.parquet", capsys.readouterr().err, re.M)


def test_no_command_prints_help_and_fails(capsys) -> None:
    assert main([]) == 2
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m analysis") and "commands:" in out
    for command in ("pareto", "history", "compare"):
        assert re.search(rf"^\s+{command}\s+\S", out, re.M)  # each listed with its summary


def _imported_after(code: str) -> list[str]:
    probe = (f"import sys\n{code}\nheavy = ('torch', 'transformers', 'ray', 'matplotlib', "
             "'pandas')\nprint(sorted(m for m in heavy if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True, cwd=Path(__file__).parents[2])
    return eval(result.stdout.strip().splitlines()[-1])


def test_help_imports_nothing_heavy() -> None:
    code = ("from analysis.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n")
    assert _imported_after(code) == []
    assert _imported_after("import analysis") == []


def test_analysis_modules_do_not_import_torch_ray_or_matplotlib() -> None:
    code = ("import analysis, analysis.commands, analysis.html, analysis.plot, "
            "analysis.history, analysis.compare\nanalysis.pareto_fronts")
    assert _imported_after(code) == ["pandas"]


def test_only_failed_trials_still_give_a_report(make_experiment, tmp_path: Path, capsys) -> None:
    exp = make_experiment("bad", [{"trial_id": "f1", "score": 0.9, "status": "failed"},
                                  {"trial_id": "f2", "score": 0.9, "status": "diverged"}])
    assert main(["pareto", str(exp), "--out", (tmp_path / "r").as_uri()]) == 0
    assert "1 failed, 1 diverged" in capsys.readouterr().out
    assert pd.read_csv(tmp_path / "r" / "pareto.csv").empty
    assert "no completed trials" in (tmp_path / "r" / "index.html").read_text()


def test_three_objectives_from_the_command_line(joint_report, tmp_path: Path, capsys) -> None:
    exps = [str(joint_report[0].parent / n) for n in ("cap_sst2", "smp_sst2")]
    argv = ["pareto", *exps, "--objective", "head_sparsity:min", "--no-plot",
            "--ref", "head_sparsity=1", "--out", str(tmp_path)]
    assert main(argv) == 0
    assert "reference point (sst2): weight_sparsity=0, score=0.5092, head_sparsity=1" in (
        capsys.readouterr().out)


def test_every_public_name_resolves() -> None:
    import analysis

    for name in analysis.__all__:
        assert getattr(analysis, name) is not None
