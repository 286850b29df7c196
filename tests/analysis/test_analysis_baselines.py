"""Reference scores on every front: majority class (per task, its own metric), CAP teacher,
dense fine-tune; and the front across all methods of a task."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pandas as pd
import pytest
from analysis_fixtures import CAP_TRIALS
from analysis_fixtures import DENSE_TRIALS
from analysis_fixtures import SMP_TRIALS
from analysis_fixtures import write_experiment

from analysis.baselines import MAJORITY_SCORES
from analysis.baselines import majority_baseline
from analysis.baselines import majority_class_score
from analysis.baselines import teacher_baseline
from analysis.cli import main

GLUE = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "glue" / "parquet"
FIRST_EVAL = {"sst2": "validation", "cola": "validation", "mrpc": "validation",
              "qqp": "validation", "mnli": "validation_matched"}


@pytest.mark.skipif(not GLUE.is_dir(), reason="needs ../shared/data/glue")
@pytest.mark.parametrize("task", sorted(FIRST_EVAL))
def test_the_majority_table_is_what_the_glue_dev_sets_give(task: str) -> None:
    labels = pd.read_parquet(GLUE / task / f"{FIRST_EVAL[task]}.parquet", columns=["label"])
    counts = labels["label"].value_counts().to_dict()
    assert MAJORITY_SCORES[task] == pytest.approx(majority_class_score(task, counts), abs=1e-12)
    # the majority class of the dev set is the training set's too: the predictor is fair
    train = pd.read_parquet(GLUE / task / "train.parquet", columns=["label"])["label"]
    assert train.value_counts().idxmax() == max(counts, key=counts.get)


def test_majority_scores_use_each_tasks_metric() -> None:
    assert majority_class_score("QQP", {0: 63, 1: 37}) == pytest.approx(0.63 / 2)  # F1 = 0
    p = 0.68
    assert majority_class_score("mrpc", {0: 32, 1: 68}) == pytest.approx((p + 2 * p / (1 + p)) / 2)
    assert majority_class_score("cola", {0: 30, 1: 70}) == 0.0  # MCC of a constant
    assert majority_class_score("sst2", {0: 10, 1: 30}) == 0.75
    assert MAJORITY_SCORES["qqp"] == pytest.approx(0.3159, abs=1e-4)  # the 0.32
    assert MAJORITY_SCORES["mrpc"] == pytest.approx(0.748, abs=1e-3)  # the issue's ~0.75
    assert majority_baseline("stsb").score == 0.0
    rte = majority_baseline("rte")
    assert rte.score == 0.5 and "chance level" in rte.source  # said so: not in the table
    assert majority_baseline("wnli") is None


def test_recorded_values_win_over_the_table() -> None:
    assert majority_baseline("qqp", {"majority_score": 0.4}).score == 0.4
    counted = majority_baseline("qqp", {"eval_label_counts": {"0": 30, "1": 70}})
    assert counted.score == pytest.approx((0.7 + 1.4 / 1.7) / 2)
    assert "evaluation set" in counted.source


def _teacher(root: Path, key: str, task: str, score: float, **config) -> Path:
    folder = root / "_artifacts" / "teacher" / key
    folder.mkdir(parents=True)
    (folder / "metrics.json").write_text(json.dumps(
        {"metrics": {"score": score}, "config": {"task": task, "model": "tiny-bert", **config}}))
    return folder


def test_the_teacher_is_found_by_key_path_or_artifact(tmp_path: Path) -> None:
    exp = tmp_path / "exp"
    exp.mkdir()
    assert teacher_baseline(exp, {"teacher_score": 0.81}, "sst2").score == 0.81
    path = _teacher(tmp_path / "elsewhere", "k0", "sst2", 0.77)
    assert teacher_baseline(exp, {"teacher_path": str(path)}, "sst2").score == 0.77
    assert teacher_baseline(exp, {"trainable": "cap"}, "sst2") is None
    _teacher(tmp_path, "k1", "cola", 0.5)  # another task
    _teacher(tmp_path, "k2", "sst2", 0.6, max_seq_length=64)  # other data settings
    _teacher(tmp_path, "k3", "sst2", 0.93, max_seq_length=32)
    found = teacher_baseline(exp, {"trainable": "cap", "settings": {"max_seq_length": 32}},
                             "SST-2", "tiny-bert")
    assert found.score == 0.93 and "k3" in found.source
    assert teacher_baseline(exp, {"trainable": "smp"}, "sst2") is None  # no teacher in SMP


@pytest.fixture
def report(tmp_path: Path) -> tuple[Path, str]:
    root = tmp_path / "exps"
    exps = [write_experiment(root, "cap_sst2", CAP_TRIALS, method="cap-soft"),
            write_experiment(root, "smp_sst2", SMP_TRIALS, method="smp"),
            write_experiment(root, "dense_sst2", DENSE_TRIALS, method="dense")]
    info = json.loads((exps[0] / "experiment.json").read_text())
    (exps[0] / "experiment.json").write_text(json.dumps({**info, "trainable": "cap"}))
    _teacher(root, "abc", "sst2", 0.935)
    out = tmp_path / "report"
    console = io.StringIO()
    with contextlib.redirect_stdout(console):
        assert main(["pareto", *map(str, exps), "--out", str(out)]) == 0
    return out, console.getvalue()


def test_every_baseline_is_drawn_and_listed(report) -> None:
    out, console = report
    md = (out / "summary.md").read_text()
    # the score_se column (empty: a table value has none) sits between score and source
    for line in ("| sst2 | majority class | 0.5092 |  | full GLUE dev set (table) |",
                 "| sst2 | dense fine-tune | 0.92 |", "| sst2 | CAP teacher | 0.935 |"):
        assert line in md
    assert "CAP teacher score (sst2): 0.935" in console
    html = (out / "index.html").read_text()
    kinds = [k for k in ("majority", "teacher", "dense") if f'data-kind="{k}"' in html]
    assert kinds == ["majority", "teacher", "dense"]
    assert "<h2>Reference scores</h2>" in html


def test_the_default_report_has_the_front_across_methods(report) -> None:
    out, _ = report
    front = pd.read_csv(out / "pareto.csv")
    across = set(front.loc[front["on_task_front"], "trial_id"])
    # s3 (0.3, 0.85) is on SMP's own front but c2 (0.5, 0.88) beats it across methods
    assert across == {"d1", "c1", "s1", "c2", "c5"}
    assert set(front["trial_id"]) == across | {"s3"}
    md = (out / "summary.md").read_text()
    assert "| sst2 | (all) | 14 | 5 | 9 |" in md
    assert (out / "index.html").read_text().count('class="task-front"') == 1


def test_one_method_alone_has_no_extra_front(tmp_path: Path, capsys) -> None:
    exp = write_experiment(tmp_path, "cap_only", CAP_TRIALS, method="cap-soft")
    assert main(["pareto", str(exp), "--no-plot"]) == 0
    assert "(all)" not in capsys.readouterr().out


def test_sparsity_targets_are_drawn_as_vertical_lines(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from analysis import schema

    exp = write_experiment(tmp_path, "targets", [], method="cap-soft")
    for i, (target, reached, score) in enumerate([(0.5, 0.52, 0.85), (0.9, 0.88, 0.7)]):
        row = {schema.EXPERIMENT: "targets", schema.SPACE: "cap_soft_sst2",
               schema.METHOD: "cap-soft", schema.TASK: "sst2", schema.MODEL: "tiny",
               schema.PROFILE: "smoke", schema.TRIAL_ID: f"t{i}", schema.SEED: 0,
               schema.ITERATION: 1, schema.STEP: 4, schema.EPOCH: 1.0, schema.ELAPSED_S: 1.0,
               schema.IS_FINAL: True, schema.STATUS: "completed", schema.SCORE: score,
               schema.WEIGHT_SPARSITY: reached, schema.HEAD_SPARSITY: 0.0,
               schema.TARGET_SPARSITY: target}
        pq.write_table(schema.rows_to_table([row]), exp / "results" / f"t{i}-it000001.parquet")
    assert main(["pareto", str(exp)]) == 0
    html = (exp / "report" / "index.html").read_text()
    assert html.count('<line class="target"') == 2
    assert "target 0.5</text>" in html and "target 0.9</text>" in html
    assert "target_sparsity = 0.9" in html  # in the hover text too
