"""Latency of a model against its dense twin, measured in alternation (every method's final row).

A trial reports both in its final row, plus their ratio ``speedup`` (dense / model). Timed one
after the other, a burst of load from a neighbour lands on one model only (on a shared CPU we
saw the dense model "faster" than the pruned one that way); alternating single passes makes
such bursts hit both alike. The batch is the first 32 rows of the eval split, padded to full
length, so the model and its dense twin do identical work. SMP times its head-pruned model,
CAP its baked model in sparse storage (:mod:`trainables.sparse`), dense its own model (a
speed-up near 1 that shows the noise floor).

Example:
    >>> paired_latency_ms(pruned, eval_tensors, device=torch.device("cpu"))  # doctest: +SKIP
    {'latency_ms': 41.2, 'dense_latency_ms': 52.9, 'speedup': 1.284}
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping

import torch
from torch import nn

from trainables import report_keys as K
from trainables.runtime import autocast, eval_mode, synchronize, to_device

SEQUENCE_KEYS = ("input_ids", "attention_mask", "token_type_ids")
BATCH_SIZE = 32


def dense_twin(pruned: nn.Module, device: torch.device) -> nn.Module:
    """A randomly initialised model of the dense architecture (the config still describes it).

    Weights do not change the work of a forward pass, so no download is needed; the global
    random state is left untouched.
    """
    with torch.random.fork_rng(devices=[]):
        return type(pruned)(pruned.config).to(device)


def latency_batch(tensors: Mapping[str, torch.Tensor], device: torch.device,
                  batch_size: int = BATCH_SIZE) -> dict[str, torch.Tensor]:
    """The first ``batch_size`` rows of ``tensors``, full length, on ``device``."""
    n = min(batch_size, len(tensors["input_ids"]))
    return to_device({k: tensors[k][:n] for k in SEQUENCE_KEYS if k in tensors}, device)


@torch.no_grad()
def paired_latency_ms(model: nn.Module, tensors: Mapping[str, torch.Tensor], *,
                      device: torch.device, bf16: bool = False,
                      batch_size: int = BATCH_SIZE, rounds: int = 7, warmup: int = 2,
                      dense: nn.Module | None = None) -> dict[str, float]:
    """Median ms per forward pass of ``model`` (``latency_ms``) and of a dense model
    (``dense_latency_ms``), alternating one pass of each per round after ``warmup`` each,
    and ``speedup`` = dense_latency_ms / latency_ms.

    Args:
        model: the model to time.
        tensors: tokenised rows (``input_ids``, ``attention_mask``, ...); the first
            ``batch_size`` are used.
        device: where both models run.
        bf16: time under bf16 autocast.
        dense: the dense reference; by default :func:`dense_twin` of ``model``.
    """
    dense = dense_twin(model, device) if dense is None else dense
    batch = latency_batch(tensors, device, batch_size)
    models = {K.LATENCY_MS: model, K.DENSE_LATENCY_MS: dense}
    samples: dict[str, list[float]] = {key: [] for key in models}
    with eval_mode(model, dense):
        for index in range(warmup + rounds):
            for key, module in models.items():
                synchronize(device)
                start = time.perf_counter()
                with autocast(device, bf16):
                    module(**batch)
                synchronize(device)
                if index >= warmup:  # the first passes pay for allocation and kernel choice
                    samples[key].append(time.perf_counter() - start)
    result = {key: 1000.0 * statistics.median(times) for key, times in samples.items()}
    result[K.SPEEDUP] = result[K.DENSE_LATENCY_MS] / result[K.LATENCY_MS]
    return result


def same_model_latency(result: Mapping[str, float]) -> dict[str, float]:
    """The paired timing of a model against an identical computation (every layer kept dense):
    one latency, the two medians pooled, and ``speedup`` exactly 1.

    Without this, the alternating timing's noise (up to ~20% on a loaded CPU, measured) is
    reported as a speed-up, and a sweep with ``--objectives score,speedup`` would optimise it.
    """
    pooled = (result[K.LATENCY_MS] + result[K.DENSE_LATENCY_MS]) / 2
    return {K.LATENCY_MS: pooled, K.DENSE_LATENCY_MS: pooled, K.SPEEDUP: 1.0}

