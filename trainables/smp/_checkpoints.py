"""Atomic, resumable meta-training checkpoints (private to :mod:`trainables.smp.meta_training`).

Layout: ``<dir>/checkpoint-<step>/`` with ``pruner.safetensors`` (the CNN state dict,
BN buffers included) and ``trainer.pt`` (step, optimiser, RNG state, task-stream
positions, settings, counters; plain containers, read back with ``weights_only=True``).
A checkpoint is built in a hidden temporary folder and renamed into place, so a folder
named ``checkpoint-<step>`` is always complete.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file
from safetensors.torch import save_file

from trainables.smp.pruner import SAFETENSORS_NAME

TRAINER_NAME = "trainer.pt"
PREFIX = "checkpoint-"


def checkpoint_dir(directory: Path, step: int) -> Path:
    return directory / f"{PREFIX}{step}"


def latest_checkpoint(directory: str | Path) -> Path | None:
    """The complete ``checkpoint-<step>`` folder with the highest step, or None."""
    found = []
    for path in Path(directory).glob(f"{PREFIX}*"):
        suffix = path.name[len(PREFIX):]
        complete = (path / SAFETENSORS_NAME).is_file() and (path / TRAINER_NAME).is_file()
        if suffix.isdigit() and complete:
            found.append((int(suffix), path))
    return max(found)[1] if found else None


def save_checkpoint(directory: Path, step: int, cnn_state: dict[str, torch.Tensor],
                    trainer_state: dict[str, Any]) -> Path:
    """Write ``checkpoint-<step>`` atomically; returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".tmp-{PREFIX}{step}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        tensors = {k: v.detach().cpu().contiguous() for k, v in cnn_state.items()}
        save_file(tensors, str(tmp / SAFETENSORS_NAME))
        torch.save(trainer_state, tmp / TRAINER_NAME)
        final = checkpoint_dir(directory, step)
        if final.exists():  # a leftover of a run that died after this step: replace it
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def load_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(cnn_state, trainer_state)`` of a checkpoint folder."""
    cnn_state = load_file(str(path / SAFETENSORS_NAME), device="cpu")
    trainer_state = torch.load(path / TRAINER_NAME, map_location="cpu", weights_only=True)
    return cnn_state, trainer_state
