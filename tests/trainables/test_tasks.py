"""The GLUE task table and metrics."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings

import numpy as np
import pytest

from trainables.tasks import TASKS
from trainables.tasks import TaskSpec
from trainables.tasks import UnknownTaskError
from trainables.tasks import compute_metrics
from trainables.tasks import get_task

GLUE = ("cola", "sst2", "mrpc", "qqp", "stsb", "mnli", "qnli", "rte")


def test_table_has_glue_and_toy_tasks():
    assert set(TASKS) == {*GLUE, "toy_single", "toy_pair"}
    for name, spec in TASKS.items():
        assert spec.name == name
        assert (spec.hf_config is None) == (spec.tsv_dir is None) == name.startswith("toy")


def test_mnli_label_order_matches_hugging_face():
    mnli = TASKS["mnli"]
    assert mnli.label_names == ("entailment", "neutral", "contradiction")
    assert mnli.eval_splits == ("validation_matched", "validation_mismatched")
    assert mnli.text_fields == ("premise", "hypothesis")


@pytest.mark.parametrize(
    ("name", "num_labels", "pair", "regression"),
    [("cola", 2, False, False), ("sst2", 2, False, False), ("mrpc", 2, True, False),
     ("qqp", 2, True, False), ("stsb", 1, True, True), ("mnli", 3, True, False),
     ("qnli", 2, True, False), ("rte", 2, True, False), ("toy_single", 2, False, False),
     ("toy_pair", 2, True, False)],
)
def test_shape_properties(name, num_labels, pair, regression):
    spec = TASKS[name]
    assert (spec.num_labels, spec.is_pair, spec.is_regression) == (num_labels, pair, regression)


@pytest.mark.parametrize(
    ("name", "chance"),
    [("sst2", 0.5), ("mrpc", 0.5), ("qqp", 0.5), ("mnli", 1 / 3), ("cola", 0.0), ("stsb", 0.0)],
)
def test_chance_score(name, chance):
    assert TASKS[name].chance_score == pytest.approx(chance)


@pytest.mark.parametrize(
    ("given", "canonical"),
    [("SST-2", "sst2"), ("sst-2", "sst2"), ("STS-B", "stsb"), ("MNLI", "mnli"),
     ("CoLA", "cola"), ("qqp", "qqp"), ("toy-single", "toy_single"), ("Toy_Pair", "toy_pair")],
)
def test_get_task_accepts_variants(given, canonical):
    assert get_task(given).name == canonical


def test_unknown_task_lists_names_and_suggests():
    with pytest.raises(UnknownTaskError) as info:
        get_task("sst3")
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert "'sst3'" in message and "Did you mean 'sst2'?" in message
    assert all(name in message for name in TASKS)


def test_unknown_task_without_close_match_has_no_suggestion():
    with pytest.raises(UnknownTaskError, match="valid tasks are") as info:
        get_task("imagenet")
    assert "Did you mean" not in str(info.value)


def test_taskspec_validates_its_fields():
    with pytest.raises(ValueError, match="text_fields"):
        TaskSpec("x", None, None, ("a", "b", "c"), ("n", "p"))
    with pytest.raises(ValueError, match="metrics"):
        TaskSpec("x", None, None, ("a",), ("n", "p"), metrics=("bleu",), primary=("bleu",))
    with pytest.raises(ValueError, match="primary"):
        TaskSpec("x", None, None, ("a",), ("n", "p"), primary=("f1",))


def test_tasks_module_imports_neither_torch_nor_transformers():
    code = ("import sys, trainables.tasks; "
            "print(any(m.split('.')[0] in ('torch', 'transformers') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# -- metrics --------------------------------------------------------------------------------


def _logits(classes, num_labels=2):
    """One-hot logits that argmax to ``classes``."""
    return np.eye(num_labels)[np.asarray(classes)] * 3.0 - 1.0


def test_accuracy_tasks_score_accuracy():
    out = compute_metrics(TASKS["sst2"], _logits([1, 0, 1, 1]), [1, 0, 0, 1])
    assert out == {"accuracy": 0.75, "score": 0.75}
    assert compute_metrics(TASKS["toy_single"], _logits([1, 0, 1, 1]), [1, 0, 0, 1]) == out


def test_mrpc_and_qqp_score_is_mean_of_accuracy_and_f1():
    # TP=2, FP=1, FN=1, TN=1: accuracy 3/5, precision = recall = 2/3, F1 = 2/3.
    preds, gold = _logits([1, 0, 0, 1, 1]), [1, 1, 0, 0, 1]
    for name in ("mrpc", "qqp", "toy_pair"):
        out = compute_metrics(TASKS[name], preds, gold)
        assert out["accuracy"] == pytest.approx(0.6)
        assert out["f1"] == pytest.approx(2 / 3)
        assert out["score"] == pytest.approx((0.6 + 2 / 3) / 2)


def test_cola_scores_matthews_correlation():
    # TP=1, TN=2, FP=0, FN=1: MCC = (1*2 - 0*1) / sqrt(1 * 2 * 2 * 3).
    out = compute_metrics(TASKS["cola"], _logits([1, 0, 0, 0]), [1, 1, 0, 0])
    assert out["mcc"] == pytest.approx(2 / math.sqrt(12))
    assert out["accuracy"] == pytest.approx(0.75)
    assert out["score"] == out["mcc"]


def test_stsb_scores_mean_of_pearson_and_spearman():
    preds, gold = np.array([1.0, 2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0, 10.0])
    out = compute_metrics(TASKS["stsb"], preds, gold)
    assert out["spearman"] == pytest.approx(1.0)
    assert out["pearson"] == pytest.approx(np.corrcoef(preds, gold)[0, 1])
    assert out["score"] == pytest.approx((out["pearson"] + 1.0) / 2)
    assert compute_metrics(TASKS["stsb"], preds[:, None], gold) == out  # [N, 1] is fine


def test_mnli_three_way_accuracy():
    out = compute_metrics(TASKS["mnli"], _logits([0, 1, 2, 2], 3), [0, 1, 2, 0])
    assert out == {"accuracy": 0.75, "score": 0.75}


def test_class_ids_and_tensors_are_accepted():
    torch = pytest.importorskip("torch")
    ids = compute_metrics(TASKS["sst2"], np.array([1, 0]), [1, 1])
    tensors = compute_metrics(TASKS["sst2"], torch.tensor(_logits([1, 0])), torch.tensor([1, 1]))
    assert ids == tensors == {"accuracy": 0.5, "score": 0.5}


@pytest.mark.parametrize("name", ["cola", "mrpc", "stsb"])
def test_constant_predictions_give_zero_not_nan(name):
    task = TASKS[name]
    preds = np.full(6, 2.5) if task.is_regression else _logits([1] * 6)
    gold = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0]) if task.is_regression else [0, 1] * 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning / ConstantInputWarning either
        out = compute_metrics(task, preds, gold)
    assert all(math.isfinite(v) for v in out.values())
    for key in ("mcc", "pearson", "spearman"):
        if key in out:
            assert out[key] == 0.0


def test_no_positive_predictions_give_zero_f1_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = compute_metrics(TASKS["mrpc"], _logits([0, 0, 0]), [1, 0, 0])
    assert out["f1"] == 0.0


def test_bad_prediction_shapes_are_rejected():
    with pytest.raises(ValueError, match="3 columns"):
        compute_metrics(TASKS["mnli"], _logits([0, 1]), [0, 1])
    with pytest.raises(ValueError, match="2 predictions for 3 labels"):
        compute_metrics(TASKS["sst2"], _logits([0, 1]), [0, 1, 1])
    with pytest.raises(ValueError, match="integer class ids"):
        compute_metrics(TASKS["sst2"], np.array([0.2, 0.9]), [0, 1])
    with pytest.raises(ValueError, match="at least one"):
        compute_metrics(TASKS["sst2"], np.zeros((0, 2)), [])
    with pytest.raises(ValueError, match=r"shape \[N\]"):
        compute_metrics(TASKS["stsb"], np.zeros((2, 2)), [0.0, 1.0])
