"""Tiny ``cap`` trial configs for the trainable tests (a uniquely named module, safe to import)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def tiny_cap_config(storage: Path, **overrides: Any) -> dict[str, Any]:
    """A CAP trial on the tiny BERT and 32 generated examples: 4 steps per epoch, seconds."""
    config = {
        "task": "toy_single", "model": "tiny", "synthetic_data": True,
        "max_train_examples": 32, "max_eval_examples": 16, "max_seq_length": 32,
        "train_batch_size": 8, "eval_batch_size": 16, "max_steps": 12, "eval_every": 6,
        "warmup_steps": 1, "measure_latency": False, "storage_root": str(storage),
        "num_threads": 1, "teacher_max_steps": 4, "extra_examples": 16,
        "mask_scores_learning_rate": 1.0,
        # a 4-step teacher of a random tiny BERT scores at the 16 rows' majority class:
        # collapsed by design (as in the smoke profile), accepted for these tests
        "allow_weak_teacher": True,
    }
    config.update(overrides)
    return config
