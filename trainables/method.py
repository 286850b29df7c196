"""The seam between the shared fine-tune loop and a pruning method.

:class:`Method` is plain fine-tuning (the dense trainable); a method subclasses it and
overrides what it changes. The loop (:func:`trainables.finetune.fine_tune`) calls, in order:

- ``param_groups(model, cfg)`` once, for AdamW;
- ``epoch_start(model, epoch)`` before the first batch of every epoch (CAP: snapshot bank);
- ``loss(model, batch, step)`` every step, inside autocast: the method's whole step (CAP:
  threshold and lambda from the schedule, student forward, CE + KD + contrastive + L1);
- at every evaluation, inside ``with evaluating():`` (CAP: the final threshold),
  ``sparsity(model)`` and, on the last one, ``final_metrics(model)`` and
  ``latency(model, tensors, device, bf16)``; then ``sparsity_settled(step)``;
- ``save(directory)`` into every checkpoint, ``load(directory)`` when resuming from one;
  ``stock_model(model)`` for the final checkpoint's exportable stock folder.

Example:
    >>> class Halved(Method):                                  # a method changes its loss
    ...     def loss(self, model, batch, step):
    ...         return super().loss(model, batch, step) / 2
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainables.config import TrainConfig
from trainables.evaluation import logits_of, task_loss
from trainables.latency import paired_latency_ms
from trainables.sparsity import count_params, sparsity_columns
from trainables.tasks import TaskSpec


def default_param_groups(model: nn.Module, cfg: TrainConfig) -> list[dict[str, Any]]:
    """Weight decay on weights, none on biases and LayerNorm (BERT's recipe)."""
    decay, no_decay = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (no_decay if name.endswith("bias") or "LayerNorm" in name else decay).append(param)
    return [
        {"params": decay, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


class Method:
    """Dense fine-tuning; a pruning method overrides what it changes (see the module doc)."""

    name = "dense"  # the ``method`` column

    def __init__(self, task: TaskSpec | None) -> None:
        self.task = task  # for the default loss; a method with its own loss may pass None

    def param_groups(self, model: nn.Module, cfg: TrainConfig) -> list[dict[str, Any]]:
        return default_param_groups(model, cfg)

    def epoch_start(self, model: nn.Module, epoch: int) -> None:
        """Before the first batch of ``epoch`` (also when a resumed run starts one)."""

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor], step: int) -> torch.Tensor:
        """The training loss of one batch (on the device, inside autocast) at ``step``."""
        return task_loss(self.task, logits_of(model, batch), batch["labels"])

    @contextlib.contextmanager
    def evaluating(self) -> Iterator[None]:
        """The model's evaluation state, for the whole evaluation (and the final metrics)."""
        yield

    def sparsity(self, model: nn.Module) -> Mapping[str, Any]:
        """The four sparsity columns (:func:`trainables.sparsity.sparsity_columns`)."""
        return sparsity_columns(count_params(model), 0.0)

    def sparsity_settled(self, step: int) -> bool:
        """True once sparsity no longer changes: early stopping compares trials from then."""
        return True

    def final_metrics(self, model: nn.Module) -> Mapping[str, Any]:
        """Extra columns of the last report."""
        return {}

    def latency(self, model: nn.Module, tensors: Mapping[str, torch.Tensor],
                device: torch.device, bf16: bool) -> Mapping[str, float]:
        """``latency_ms``, ``dense_latency_ms``, ``speedup`` of the final model, after
        :meth:`final_metrics`: the model against its dense twin, alternating."""
        return paired_latency_ms(model, tensors, device=device, bf16=bf16)

    def stock_model(self, model: nn.Module) -> nn.Module:
        """The trained model as a stock transformers model (``from_pretrained`` loads it with
        no code of this project), saved into the final checkpoint's export folder
        (:func:`trainables.checkpoint.save_stock_folder`); after :meth:`final_metrics`.
        Dense fine-tuning: the model itself."""
        return model

    def save(self, directory: Path) -> None:
        """Write the method's own state into a checkpoint folder."""

    def load(self, directory: Path) -> None:
        """Read what :meth:`save` wrote, when resuming."""


__all__ = ["Method", "default_param_groups"]
