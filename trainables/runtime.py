"""Where and how a trial computes: device, threads, seeds, mixed precision."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
import functools
import logging
import os
import random

import numpy as np
import torch


def select_device(name: str) -> torch.device:
    """``auto`` picks the GPU Ray assigned to this trial (CUDA_VISIBLE_DEVICES), else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device {name!r} was asked for, but CUDA is not available here")
    return torch.device(name)


def set_threads(num_threads: int) -> None:
    """Use the trial's CPU share for intra-op parallelism (0 leaves torch's default)."""
    if num_threads > 0:
        torch.set_num_threads(num_threads)
        os.environ.setdefault("OMP_NUM_THREADS", str(num_threads))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


log = logging.getLogger(__name__)


@functools.cache
def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16/AMX through oneDNN).

    On a CPU without it (AVX2 only) torch emulates bf16 matmuls, measured 8x *slower* than
    fp32 for a MiniLM-sized linear on such a machine, so bf16 autocast would be a trap.
    """
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a torch build without oneDNN
        return False


def bf16_used(device: torch.device, requested: bool) -> bool:
    """Whether ``bf16=True`` is honoured on ``device``: always on CUDA, on a CPU only when it
    has native bf16 (else fp32, with one log line). ``PRUNESWEEP_CPU_BF16=force`` overrides,
    for benchmarks that measure emulated bf16 on purpose."""
    if not requested or device.type != "cpu":
        return requested
    if cpu_has_native_bf16() or os.environ.get("PRUNESWEEP_CPU_BF16") == "force":
        return True
    _warn_fp32_once()
    return False


@functools.cache
def _warn_fp32_once() -> None:
    log.warning("bf16 asked for, but this CPU has no native bf16 (it would run about 8x slower "
                "than fp32): computing in fp32 (PRUNESWEEP_CPU_BF16=force overrides)")


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on CUDA, or on a CPU with native bf16, when ``enabled``; a no-op
    otherwise (see :func:`bf16_used`)."""
    if not bf16_used(device, enabled):
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


@contextlib.contextmanager
def eval_mode(*modules: torch.nn.Module) -> Iterator[None]:
    """Put ``modules`` in eval mode and restore each one's previous mode afterwards."""
    before = [m.training for m in modules]
    try:
        for module in modules:
            module.eval()
        yield
    finally:
        for module, mode in zip(modules, before):
            module.train(mode)


def to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    non_blocking = device.type == "cuda"
    return {k: v.to(device, non_blocking=non_blocking) for k, v in batch.items()}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
