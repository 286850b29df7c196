"""Latency of a pruned model against its dense twin, measured in alternation.

A trial reports both in its final row. Timed one after the other, a burst of load from a
neighbour lands on one model only (on a shared CPU we saw the dense model "faster" than the
pruned one that way); alternating single passes makes such bursts hit both alike. The batch
is the one :func:`trainables.evaluation.measure_latency_ms` uses: the first 32 rows of the
eval split, padded to full length, so pruned and dense do identical work.

Example:
    >>> paired_latency_ms(pruned, eval_tensors, device=torch.device("cpu"))  # doctest: +SKIP
    {'latency_ms': 41.2, 'dense_latency_ms': 52.9}
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping

import torch
from torch import nn

from trainables.runtime import autocast, synchronize, to_device
from trainables.smp.attention import SEQUENCE_KEYS
from trainables.smp.attention import eval_mode


def dense_twin(pruned: nn.Module, device: torch.device) -> nn.Module:
    """A randomly initialised model of the dense architecture (the config still describes it).

    Weights do not change the work of a forward pass, so no download is needed; the global
    random state is left untouched.
    """
    with torch.random.fork_rng(devices=[]):
        return type(pruned)(pruned.config).to(device)


@torch.no_grad()
def paired_latency_ms(pruned: nn.Module, tensors: Mapping[str, torch.Tensor], *,
                      device: torch.device, bf16: bool = False, batch_size: int = 32,
                      rounds: int = 7, warmup: int = 2) -> dict[str, float]:
    """Median ms per forward pass of ``pruned`` (``latency_ms``) and of its dense twin
    (``dense_latency_ms``), alternating one pass of each per round after ``warmup`` each."""
    dense = dense_twin(pruned, device)
    n = min(batch_size, len(tensors["input_ids"]))
    batch = to_device({k: tensors[k][:n] for k in SEQUENCE_KEYS if k in tensors}, device)
    models = {"latency_ms": pruned, "dense_latency_ms": dense}
    samples: dict[str, list[float]] = {key: [] for key in models}
    with eval_mode(pruned, dense):
        for index in range(warmup + rounds):
            for key, model in models.items():
                synchronize(device)
                start = time.perf_counter()
                with autocast(device, bf16):
                    model(**batch)
                synchronize(device)
                if index >= warmup:  # the first passes pay for allocation and kernel choice
                    samples[key].append(time.perf_counter() - start)
    return {key: 1000.0 * statistics.median(times) for key, times in samples.items()}
