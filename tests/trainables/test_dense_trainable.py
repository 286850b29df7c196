"""The dense trainable through the Reporter interface (no Ray)."""

from __future__ import annotations

import pytest
import torch

from analysis import schema as S
from trainables.checkpoint import MODEL_FILE, TRAINER_FILE
from trainables.dense import run
from trainables.finetune import TrialDivergedError, lr_multiplier, plan_steps
from trainables.config import TrainConfig
from trainables.reporting import RecordingReporter


def test_reports_schema_metrics_every_eval_and_marks_the_last(tiny_dense_config):
    rec = RecordingReporter()
    run(tiny_dense_config, rec)
    assert [m["step"] for m in rec.metrics] == [3, 6]
    assert [m["is_final"] for m in rec.metrics] == [False, True]
    last = rec.metrics[-1]
    for column in (S.SCORE, S.ACCURACY, S.EVAL_LOSS, S.WEIGHT_SPARSITY, S.HEAD_SPARSITY,
                   S.PARAMS_TOTAL, S.PARAMS_REMAINING, S.TRAIN_TIME_S, S.EXAMPLES_PER_S,
                   S.ELAPSED_S, S.EPOCH, S.DEVICE):
        assert column in last, column
    assert last["method"] == "dense" and last["weight_sparsity"] == 0.0
    assert last["params_total"] == last["params_remaining"] > 0
    assert 0.0 <= last["score"] <= 1.0
    S.rows_to_table([{k: v for k, v in m.items() if k in S.COLUMNS} for m in rec.metrics])


def test_checkpoint_is_safetensors_and_resume_continues_exactly(tiny_dense_config):
    full = RecordingReporter()
    run(tiny_dense_config, full)
    first = full.checkpoints[0]
    assert (first / MODEL_FILE).is_file() and (first / TRAINER_FILE).is_file()
    state = torch.load(first / TRAINER_FILE, weights_only=True)
    assert state["step"] == 3

    resumed = RecordingReporter()
    run(tiny_dense_config, resumed, resume_from=first)
    assert [m["step"] for m in resumed.metrics] == [6]  # continues at the saved step
    assert resumed.metrics[-1]["eval_loss"] == pytest.approx(full.metrics[-1]["eval_loss"],
                                                             abs=1e-6)


def test_nan_loss_raises_diverged(tiny_dense_config):
    config = dict(tiny_dense_config, learning_rate=1e30, max_grad_norm=1e30)
    with pytest.raises(TrialDivergedError, match="TrialDivergedError: training loss is"):
        run(config, RecordingReporter())


def test_unknown_key_fails_before_training(tiny_dense_config):
    with pytest.raises(ValueError, match="unknown DenseConfig key 'lerning_rate'"):
        run(dict(tiny_dense_config, lerning_rate=1e-4), RecordingReporter())


def test_schedule_is_linear_warmup_then_decay():
    assert lr_multiplier(0, 10, 100) == 0.0
    assert lr_multiplier(5, 10, 100) == 0.5
    assert lr_multiplier(10, 10, 100) == 1.0
    assert lr_multiplier(55, 10, 100) == pytest.approx(0.5)
    assert lr_multiplier(100, 10, 100) == 0.0
    cfg = TrainConfig(train_batch_size=32, num_train_epochs=2.5, warmup_ratio=0.1)
    assert plan_steps(cfg, 100) == (4, 10, 1, 4)
