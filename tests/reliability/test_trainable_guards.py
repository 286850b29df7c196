"""Guards inside the trainables: a 0-row training split, a teacher weaker than the majority."""

from __future__ import annotations

import json

import pytest
import torch

from trainables.cap.config import CapConfig
from trainables.cap.teacher import WeakTeacherError, check_teacher_strength, majority_score
from trainables.data import TaskData
from trainables.prepare import Prepared
from trainables.tasks import get_task


def _tensors(labels: list) -> dict[str, torch.Tensor]:
    n = len(labels)
    return {"input_ids": torch.ones(n, 4, dtype=torch.long),
            "attention_mask": torch.ones(n, 4, dtype=torch.long),
            "token_type_ids": torch.zeros(n, 4, dtype=torch.long),
            "labels": torch.tensor(labels), "idx": torch.arange(n)}


@pytest.mark.timeout(60)
def test_fine_tune_refuses_an_empty_training_split():
    from trainables.config import TrainConfig
    from trainables.finetune import fine_tune
    from trainables.models import load_classifier

    task = get_task("sst2")
    data = TaskData(task, _tensors([]), {"validation": _tensors([0, 1])}, "empty")
    with pytest.raises(ValueError, match="0 rows"):
        fine_tune(TrainConfig(max_steps=3, measure_latency=False), load_classifier("tiny", 2),
                  data, lambda metrics, checkpoint_dir=None: None, device=torch.device("cpu"))


def test_majority_score():
    assert majority_score(get_task("rte"), [0, 0, 0, 1]) == pytest.approx(0.75)
    assert majority_score(get_task("stsb"), [0.5, 4.0]) == 0.0
    # MRPC's score is the mean of accuracy and F1; always "equivalent" (1) is its majority
    assert majority_score(get_task("mrpc"), [1, 1, 0]) == pytest.approx((2 / 3 + 0.8) / 2)


def _prep(task: str, labels: list) -> Prepared:
    spec = get_task(task)
    data = TaskData(spec, _tensors(labels), {"validation": _tensors(labels)}, "fp")
    return Prepared(torch.device("cpu"), spec, None, data, None)


@pytest.mark.parametrize("task, labels, score", [
    ("rte", [0, 0, 0, 1], 0.498),  # below 0.75
    ("stsb", [0.5, 4.0, 2.0], -0.03),  # below 0 (a constant prediction)
])
def test_a_teacher_below_the_majority_class_is_refused(tmp_path, task, labels, score):
    (tmp_path / "metrics.json").write_text(json.dumps({"metrics": {"score": score}}))
    prep = _prep(task, [float(x) for x in labels] if task == "stsb" else labels)
    with pytest.raises(WeakTeacherError, match="below the majority-class score.*"
                       "allow_weak_teacher=true"):
        check_teacher_strength(CapConfig(task=task), tmp_path, None, prep)
    check_teacher_strength(CapConfig(task=task, allow_weak_teacher=True), tmp_path, None, prep)


def test_a_teacher_above_the_majority_class_beyond_noise_passes(tmp_path):
    # 400 rows, majority 0.75: 0.80 is 2.5 standard errors (0.02) above it
    (tmp_path / "metrics.json").write_text(json.dumps({"metrics": {"score": 0.8}}))
    check_teacher_strength(CapConfig(task="rte"), tmp_path, None,
                           _prep("rte", [0] * 300 + [1] * 100))


@pytest.mark.parametrize("record", [{"score": 0.77},  # se from the rows: 0.021
                                    {"score": 0.77, "score_se": 0.015}])  # recorded se
def test_a_teacher_within_noise_of_the_majority_class_is_refused(tmp_path, record):
    # A teacher on 4 rows at 0.8 used to pass against a majority of 0.75; so would one at
    # 0.77 on 400 rows: neither is told apart from always answering the majority class.
    (tmp_path / "metrics.json").write_text(json.dumps({"metrics": record}))
    with pytest.raises(WeakTeacherError, match="within noise of the majority-class score "
                       "0.7500.*on 400 rows.*allow_weak_teacher=true"):
        check_teacher_strength(CapConfig(task="rte"), tmp_path, None,
                               _prep("rte", [0] * 300 + [1] * 100))
