"""Issue 14's small items: --ref typos, duplicate experiments, -inf objectives on 2-d fronts,
the knee rule as documented, pinned values in reports, budgets that differ, bare help."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from analysis_fixtures import CAP_TRIALS
from analysis_fixtures import SMP_TRIALS
from analysis_fixtures import write_experiment

from analysis.cli import main
from analysis.pareto import knee_index
from analysis.pareto import pareto_mask


def _error(argv: list[str], capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    return err[0]


def test_a_ref_typo_is_an_error_with_a_did_you_mean(tmp_path, capsys) -> None:
    exp = write_experiment(tmp_path, "cap", CAP_TRIALS[:3])
    for command in (["pareto", str(exp)], ["history", str(exp)],
                    ["compare", str(exp), str(exp)]):
        line = _error([*command, "--ref", "scor=0.9"], capsys)
        assert "'scor' is not an objective" in line and "did you mean score?" in line
    assert "latency_ms" in _error(["pareto", str(exp), "--ref", "latency_ms=3"], capsys)
    assert not (exp / "report").exists()  # refused before anything was written
    assert main(["pareto", str(exp), "--ref", "score=0.6", "--no-plot"]) == 0
    assert "score: 0.6 given with --ref" in capsys.readouterr().out


def test_two_copies_of_one_experiment_are_warned_about(tmp_path, capsys) -> None:
    exp = write_experiment(tmp_path, "cap", CAP_TRIALS[:3])
    copy = tmp_path / "backup" / "cap"
    shutil.copytree(exp, copy)
    other = write_experiment(tmp_path, "smp", SMP_TRIALS, method="smp")
    for pair in ([exp, exp], [exp, copy]):
        assert main(["pareto", *map(str, pair), "--no-plot", "--out", str(tmp_path / "r")]) == 0
        err = capsys.readouterr().err
        assert "warning: " in err and "two copies of one experiment" in err
    assert main(["pareto", str(exp), str(other), "--no-plot", "--out", str(tmp_path / "r")]) == 0
    assert "two copies" not in capsys.readouterr().err


@pytest.mark.parametrize(("bad", "expected"), [
    (-np.inf, [True, True, True, False]),  # sparsest: nothing is as sparse, so it stays
    (np.inf, [True, False, False, False]),  # sparsest and best: it dominates the rest
])
def test_pareto_mask_treats_infinite_rows_alike_in_2_and_3_objectives(
        bad: float, expected: list[bool]) -> None:
    df = pd.DataFrame({"weight_sparsity": [0.9, 0.5, 0.1, 0.5],
                       "score": [bad, 0.8, 0.9, 0.7], "head_sparsity": [0.0] * 4})
    two = pareto_mask(df, {"weight_sparsity": "max", "score": "max"})
    three = pareto_mask(df, {"weight_sparsity": "max", "score": "max", "head_sparsity": "min"})
    assert two.tolist() == three.tolist() == expected


def test_pareto_mask_2d_agrees_with_the_nd_rule_on_random_fronts() -> None:
    rng = np.random.default_rng(0)
    for _ in range(200):
        values = rng.choice([-np.inf, 0.0, 0.5, 1.0, np.inf, np.nan], size=(7, 2),
                            p=[0.1, 0.25, 0.25, 0.25, 0.1, 0.05])
        df = pd.DataFrame(values, columns=["a", "b"]).assign(c=0.0)
        assert pareto_mask(df, {"a": "max", "b": "min"}).tolist() == pareto_mask(
            df, {"a": "max", "b": "min", "c": "min"}).tolist(), values


def test_the_knee_is_what_the_docstring_says() -> None:
    rng = np.random.default_rng(1)
    for _ in range(50):
        x = np.sort(rng.random(6))
        front = np.column_stack([x, 1 - np.sqrt(x) + 0.01 * rng.random(6)])  # minimised
        lo, hi = front.min(axis=0), front.max(axis=0)
        scaled = (hi - front) / (hi - lo)
        # 2-d: farthest from the chord between the two ends (the line scaled sum = 1)
        ends = scaled[[front[:, 0].argmin(), front[:, 0].argmax()]]
        normal = np.array([ends[1, 1] - ends[0, 1], ends[0, 0] - ends[1, 0]])
        distance = np.abs((scaled - ends[0]) @ normal) / np.linalg.norm(normal)
        assert knee_index(front) == int(np.argmax(distance))
    # 3-d: the largest scaled sum, which is not the point farthest from the plane through
    # the three extreme points
    front = np.array([[0.0, 1.0, 0.5], [1.0, 0.0, 0.5], [0.5, 0.5, 0.0], [0.3, 0.3, 1.0]])
    scaled = (front.max(axis=0) - front) / (front.max(axis=0) - front.min(axis=0))
    assert knee_index(front) == int(np.argmax(scaled.sum(axis=1))) == 2


def test_pinned_values_are_in_rows_reports_and_hover(tmp_path, capsys) -> None:
    trials = [{**t, "params": {**t.get("params", {}), "final_lambda": 4000.0}}
              for t in CAP_TRIALS[:5]]
    exp = write_experiment(tmp_path, "pinned", trials)
    info = json.loads((exp / "experiment.json").read_text())
    info["overrides"] = {"final_lambda": 4000.0, "storage_root": "/x"}
    (exp / "experiment.json").write_text(json.dumps(info))
    assert main(["pareto", str(exp)]) == 0
    out = capsys.readouterr().out
    assert "Pinned with --set: final_lambda=4000.0" in out and "storage_root" not in out
    report = exp / "report"
    assert "Pinned with --set: `final_lambda=4000.0`" in (report / "summary.md").read_text()
    assert (pd.read_csv(report / "pareto.csv")["param_final_lambda"] == 4000.0).all()
    html = (report / "index.html").read_text()
    assert "param_final_lambda = 4000" in html and "Pinned with --set: final_lambda" in html


def test_a_note_when_budgets_differ(tmp_path, capsys) -> None:
    a = write_experiment(tmp_path, "cap_small", CAP_TRIALS[:3])
    b = write_experiment(tmp_path, "cap_big", CAP_TRIALS[:3])
    for exp, steps in ((a, 4), (b, 4000)):
        info = json.loads((exp / "experiment.json").read_text())
        info["settings"] = {"max_steps": steps, "max_train_examples": 32}
        (exp / "experiment.json").write_text(json.dumps(info))
    assert main(["pareto", str(a), str(b), "--no-plot", "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "note: the experiments on sst2 differ in budget" in out
    assert "max_steps 4;" in out and "max_steps 4000)" in out
    assert "max_train_examples" not in out  # equal settings are not listed
    assert "differ in budget" in (tmp_path / "r" / "summary.md").read_text()
    assert main(["compare", str(a), str(b)]) == 0
    assert "differ in budget" in capsys.readouterr().out
    c = write_experiment(tmp_path, "cap_same", CAP_TRIALS[:3])
    assert main(["pareto", str(a), str(c), "--no-plot", "--out", str(tmp_path / "s")]) == 0
    assert "differ in budget" not in capsys.readouterr().out


def test_python_m_analysis_alone_prints_help() -> None:
    result = subprocess.run([sys.executable, "-m", "analysis"], capture_output=True,
                            text=True, cwd=Path(__file__).parents[2])
    assert result.returncode == 2
    assert "commands:" in result.stdout and "export" in result.stdout
    assert "one trial's model as a stock Hugging Face folder" in result.stdout
