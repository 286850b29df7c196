"""Trial checkpoints: model weights in safetensors, trainer state loadable with weights_only.

A checkpoint folder holds ``model.safetensors`` (the module's state, shared tensors handled by
safetensors) and ``trainer.pt`` (optimizer, scheduler, step counters, RNG state: only tensors
and plain Python values, so ``torch.load(weights_only=True)`` reads it without unpickling code).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model, save_model
from torch import nn

MODEL_FILE = "model.safetensors"
TRAINER_FILE = "trainer.pt"


class CheckpointError(RuntimeError):
    pass


def save_checkpoint(directory: Path, model: nn.Module, trainer_state: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    save_model(model, str(directory / MODEL_FILE))
    tmp = directory / f".{TRAINER_FILE}.tmp"
    torch.save(trainer_state, tmp)
    os.replace(tmp, directory / TRAINER_FILE)


def load_checkpoint(directory: Path, model: nn.Module) -> dict[str, Any]:
    """Load weights into ``model`` (strict) and return the trainer state."""
    model_file, trainer_file = directory / MODEL_FILE, directory / TRAINER_FILE
    if not model_file.is_file() or not trainer_file.is_file():
        raise CheckpointError(f"{directory} is not a trial checkpoint (needs {MODEL_FILE} "
                              f"and {TRAINER_FILE})")
    missing, unexpected = load_model(model, str(model_file), strict=False)
    if missing or unexpected:
        raise CheckpointError(
            f"checkpoint {directory} does not fit the model: missing {sorted(missing)[:5]}, "
            f"unexpected {sorted(unexpected)[:5]}"
        )
    return torch.load(trainer_file, map_location="cpu", weights_only=True)


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
