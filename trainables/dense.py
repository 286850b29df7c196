"""The dense fine-tune trainable: the baseline point on every front and CAP's teacher.

Example:
    >>> from trainables.reporting import RecordingReporter
    >>> rec = RecordingReporter()
    >>> run({"task": "toy_single", "model": "tiny", "max_steps": 2}, rec)   # doctest: +SKIP
    >>> rec.metrics[-1]["is_final"]                                           # doctest: +SKIP
    True
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import nn

from trainables.config import DenseConfig, from_mapping, to_dict
from trainables.finetune import fine_tune
from trainables.models import load_classifier
from trainables.prepare import prepare
from trainables.reporting import RecordingReporter, Reporter


def run(config: Mapping[str, Any], report: Reporter, *, resume_from: Path | None = None) -> None:
    """Fine-tune the whole model; report score and zero sparsity every evaluation."""
    cfg = from_mapping(DenseConfig, config)
    train_dense(cfg, report, resume_from=resume_from)


def train_dense(cfg: DenseConfig, report: Reporter, *,
                resume_from: Path | None = None) -> tuple[nn.Module, Any]:
    """Train and return ``(model, tokenizer)``; used by :func:`run` and by CAP's teacher."""
    prep = prepare(cfg)
    model = load_classifier(cfg.model, prep.task.num_labels, seed=cfg.seed)
    model = fine_tune(cfg, model, prep.data, report, device=prep.device,
                      resume_from=resume_from, identity=prep.identity(cfg),
                      tokenizer=prep.tokenizer)
    return model, prep.tokenizer


def train_and_save(cfg: DenseConfig, out_dir: Path) -> dict[str, Any]:
    """Fine-tune and save a stock ``save_pretrained`` folder (model, tokenizer, metrics.json).

    This is how CAP's teacher artifact is built; returns the final metrics.
    """
    recorder = _FinalOnly()
    model, tokenizer = train_dense(cfg, recorder)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    final = recorder.metrics[-1] if recorder.metrics else {}
    (out_dir / "metrics.json").write_text(json.dumps(
        {"metrics": final, "config": to_dict(cfg)}, indent=2, default=str))
    return final


class _FinalOnly(RecordingReporter):
    """Keeps the metrics but not the checkpoints (nothing resumes a teacher build)."""

    def __call__(self, metrics, checkpoint_dir=None) -> None:  # type: ignore[override]
        self.metrics.append(dict(metrics))
