"""The teacher's settings are derived from TrainConfig's fields, and its artifact key is stable."""

from __future__ import annotations

import dataclasses

import torch

from trainables.artifacts import artifact_key
from trainables.cap.config import CapConfig
from trainables.cap.teacher import STUDENT_ONLY
from trainables.cap.teacher import TEACHER_FIXED
from trainables.cap.teacher import TEACHER_SETTINGS
from trainables.cap.teacher import teacher_config
from trainables.cap.teacher import teacher_inputs
from trainables.config import TrainConfig
from trainables.data import TaskData
from trainables.tasks import get_task

# A valid value other than CapConfig's default for every TrainConfig field. A new field needs
# an entry here (the first test says so), and then the second test checks it reaches the
# teacher, or is named as the teacher's own, the student's only, or fixed.
NON_DEFAULT = {
    "task": "mrpc", "model": "tiny", "data_dir": "/data/glue", "synthetic_data": True,
    "max_train_examples": 100, "max_eval_examples": 50, "subset_seed": 3,
    "max_seq_length": 64, "train_batch_size": 16, "eval_batch_size": 8,
    "learning_rate": 1e-4, "weight_decay": 0.01, "adam_epsilon": 1e-6, "max_grad_norm": 5.0,
    "num_train_epochs": 2.0, "max_steps": 7, "warmup_steps": 3, "warmup_ratio": 0.1,
    "eval_every": 5, "seed": 9, "bf16": True, "device": "cpu", "num_threads": 2,
    "trim_padding": False, "measure_latency": False, "storage_root": "/tmp/artifacts",
}
TEACHER_OWN = {"teacher_learning_rate": 5e-5, "teacher_num_train_epochs": 4.0,
               "teacher_max_steps": 11, "teacher_train_batch_size": 4, "teacher_seed": 5}


def test_every_train_config_field_has_a_test_value():
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    assert set(NON_DEFAULT) == fields, "give the new TrainConfig field a value in NON_DEFAULT"


def test_no_train_config_field_is_dropped_for_the_teacher():
    cap = CapConfig(**NON_DEFAULT, **TEACHER_OWN)
    teacher = teacher_config(cap)
    for field in dataclasses.fields(TrainConfig):
        name, got = field.name, getattr(teacher, field.name)
        if name in TEACHER_SETTINGS:
            assert got == getattr(cap, TEACHER_SETTINGS[name]), name
        elif name in STUDENT_ONLY:
            assert got == field.default, name  # the dense recipe's default
        elif name in TEACHER_FIXED:
            assert got == TEACHER_FIXED[name], name
        else:
            assert got == getattr(cap, name), f"{name} is dropped for the teacher"


def test_teacher_settings_name_real_fields():
    train, cap = ({f.name for f in dataclasses.fields(c)} for c in (TrainConfig, CapConfig))
    assert set(TEACHER_SETTINGS) | set(STUDENT_ONLY) | set(TEACHER_FIXED) <= train
    assert set(TEACHER_SETTINGS.values()) <= cap - train


def test_the_teacher_artifact_key_is_unchanged():
    """Pinned on the code before the settings were derived: existing teachers stay valid."""
    data = TaskData(get_task("sst2"), {"input_ids": torch.arange(6).view(2, 3),
                                       "labels": torch.tensor([0, 1])}, {}, "x")
    keys = [artifact_key(teacher_inputs(cfg, data)) for cfg in (
        CapConfig(), CapConfig(model="tiny", teacher_max_steps=4, bf16=True, teacher_seed=7))]
    assert keys == ["70dcb9c33ee2af45", "8d6c756f4574ceca"]
