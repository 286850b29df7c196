"""Trial checkpoints: model weights in safetensors, trainer state loadable with weights_only.

A checkpoint folder holds ``model.safetensors`` (the module's state, shared tensors handled by
safetensors) and ``trainer.pt`` (optimizer, scheduler, step counters, RNG state: only tensors
and plain Python values, so ``torch.load(weights_only=True)`` reads it without unpickling code).
The final checkpoint also holds the trial's model as a stock Hugging Face folder
(:data:`EXPORT_DIR`, :func:`save_stock_folder`), which ``python -m analysis export`` copies.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_model, save_model
from torch import nn

from facts.checkpoints import EXPORT_DIR, MODEL_FILE

TRAINER_FILE = "trainer.pt"


class CheckpointError(RuntimeError):
    pass


def save_checkpoint(directory: Path, model: nn.Module, trainer_state: dict[str, Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    save_model(model, str(directory / MODEL_FILE))
    tmp = directory / f".{TRAINER_FILE}.tmp"
    torch.save(trainer_state, tmp)
    os.replace(tmp, directory / TRAINER_FILE)


def save_stock_folder(directory: Path, model: nn.Module, tokenizer: Any) -> Path:
    """Write ``model`` (a stock transformers model) and ``tokenizer`` with
    ``save_pretrained`` into ``directory/EXPORT_DIR``: a folder that
    ``AutoModelForSequenceClassification.from_pretrained`` loads anywhere, with no code of
    this project. Every method writes one into its final checkpoint
    (:meth:`trainables.method.Method.stock_model` says what the model is)."""
    folder = directory / EXPORT_DIR
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def load_checkpoint(directory: Path, model: nn.Module) -> dict[str, Any]:
    """Load weights into ``model`` (strict) and return the trainer state."""
    model_file, trainer_file = directory / MODEL_FILE, directory / TRAINER_FILE
    if not model_file.is_file() or not trainer_file.is_file():
        raise CheckpointError(f"{directory} is not a trial checkpoint (needs {MODEL_FILE} "
                              f"and {TRAINER_FILE})")
    try:
        missing, unexpected = load_model(model, str(model_file), strict=False)
    except (OSError, ValueError, RuntimeError) as exc:  # SafetensorError is an Exception
        raise CheckpointError(f"{model_file} is not a readable safetensors file: "
                              f"{_first_line(exc)}") from None
    except Exception as exc:  # noqa: BLE001 (safetensors' own error type: name the file)
        if type(exc).__name__ != "SafetensorError":
            raise
        raise CheckpointError(f"{model_file} is not a readable safetensors file: "
                              f"{_first_line(exc)}") from None
    if missing or unexpected:
        raise CheckpointError(
            f"checkpoint {directory} does not fit the model: missing {sorted(missing)[:5]}, "
            f"unexpected {sorted(unexpected)[:5]}"
        )
    return load_trainer_state(trainer_file)


def load_trainer_state(path: Path) -> dict[str, Any]:
    """``trainer.pt`` with ``weights_only=True``; a refused or unreadable file is a
    :class:`CheckpointError` naming it (the bare UnpicklingError named no file, so the Ray
    traceback of a resumed trial did not say which checkpoint was refused)."""
    import pickle

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"{path} holds objects other than tensors and plain values, "
                              "which are refused (torch.load weights_only=True): "
                              f"{_first_line(exc)}") from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path} is not a readable trainer state: "
                              f"{_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
