"""Evaluation on the task's dev split(s), and inference latency of a model."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping

import numpy as np
import torch
from torch import nn

from trainables import report_keys as K
from trainables.data import TaskData, batches
from trainables.runtime import autocast, synchronize, to_device
from trainables.score_evidence import score_evidence
from trainables.tasks import TaskSpec, compute_metrics

Forward = Callable[[nn.Module, dict[str, torch.Tensor]], torch.Tensor]


def logits_of(model: nn.Module, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
    return model(**inputs).logits


def task_loss(task: TaskSpec, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy, or MSE for regression tasks (STS-B)."""
    if task.is_regression:
        return nn.functional.mse_loss(logits.squeeze(-1).float(), labels.float())
    return nn.functional.cross_entropy(logits.float(), labels)


@torch.no_grad()
def predict(
    model: nn.Module,
    tensors: Mapping[str, torch.Tensor],
    *,
    batch_size: int,
    device: torch.device,
    bf16: bool,
    trim_padding: bool = True,
    forward: Forward = logits_of,
) -> torch.Tensor:
    """Logits for every row, in order, as float32 on the CPU."""
    was_training = model.training
    model.eval()
    out = []
    try:
        for batch in batches(tensors, batch_size, shuffle=False, trim_padding=trim_padding):
            with autocast(device, bf16):
                out.append(forward(model, to_device(batch, device)).float().cpu())
    finally:
        model.train(was_training)
    return torch.cat(out) if out else torch.empty(0)


def evaluate(
    model: nn.Module,
    data: TaskData,
    *,
    batch_size: int,
    device: torch.device,
    bf16: bool,
    trim_padding: bool = True,
    forward: Forward = logits_of,
) -> dict[str, float]:
    """The task's metrics on its first eval split, with what the score rests on (rows, labels,
    majority score, standard error, collapse: :mod:`trainables.score_evidence`); MNLI adds
    ``mnli_mm_accuracy``."""
    metrics: dict[str, float] = {}
    for position, (split, tensors) in enumerate(data.evals.items()):
        logits = predict(model, tensors, batch_size=batch_size, device=device, bf16=bf16,
                         trim_padding=trim_padding, forward=forward)
        labels = tensors["labels"]
        if position == 0:
            predictions = _as_numpy(logits, data.task)
            metrics.update(compute_metrics(data.task, predictions, labels.numpy()))
            metrics[K.EVAL_LOSS] = float(task_loss(data.task, logits, labels))
            metrics.update(score_evidence(data.task, predictions, labels.numpy()))
        elif split == "validation_mismatched":
            mm = compute_metrics(data.task, _as_numpy(logits, data.task), labels.numpy())
            metrics[K.MNLI_MM_ACCURACY] = mm[K.ACCURACY]
    return metrics


def _as_numpy(logits: torch.Tensor, task: TaskSpec) -> np.ndarray:
    return logits.squeeze(-1).numpy() if task.is_regression else logits.numpy()


@torch.no_grad()
def measure_latency_ms(
    model: nn.Module,
    tensors: Mapping[str, torch.Tensor],
    *,
    device: torch.device,
    batch_size: int = 32,
    repeats: int = 7,
    bf16: bool = False,
) -> float:
    """Median wall time (ms) of one forward pass over a fixed batch padded to full length.

    Full length (no trimming) so that pruned and dense models are timed on identical work.
    """
    n = min(batch_size, len(tensors["input_ids"]))
    batch = to_device({k: tensors[k][:n] for k in ("input_ids", "attention_mask",
                                                   "token_type_ids")}, device)
    was_training = model.training
    model.eval()
    times = []
    try:
        for i in range(repeats + 2):
            synchronize(device)
            start = time.perf_counter()
            with autocast(device, bf16):
                model(**batch)
            synchronize(device)
            if i >= 2:  # the first passes pay for allocation and kernel selection
                times.append(time.perf_counter() - start)
    finally:
        model.train(was_training)
    return 1000.0 * statistics.median(times)
