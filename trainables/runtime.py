"""Where and how a trial computes: device, threads, seeds, mixed precision."""

from __future__ import annotations

import contextlib
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


def autocast(device: torch.device, enabled: bool) -> contextlib.AbstractContextManager:
    """bf16 autocast on CPU or CUDA when ``enabled``; a no-op otherwise."""
    if not enabled:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    non_blocking = device.type == "cuda"
    return {k: v.to(device, non_blocking=non_blocking) for k, v in batch.items()}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
