"""The training code: data, models, and one ``run(config, report)`` per method.

Trainables are known by name; this registry imports nothing heavy until a name is used, so
the orchestrator can validate configs without torch.

Example:
    >>> from trainables import config_class, trainable_names
    >>> trainable_names()
    ['cap', 'dense', 'fixed_work', 'smp']
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

# name -> (run function, config class), as "module:attribute" so nothing loads eagerly.
_REGISTRY: dict[str, tuple[str, str]] = {
    "cap": ("trainables.cap.trainable:run", "trainables.cap.config:CapConfig"),
    "dense": ("trainables.dense:run", "trainables.config:DenseConfig"),
    "fixed_work": ("trainables.fixed_work:run", "trainables.fixed_work:FixedWorkConfig"),
    "smp": ("trainables.smp.trainable:run", "trainables.smp.config:SmpConfig"),
}


class UnknownTrainableError(ValueError):
    pass


def _load(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def trainable_names() -> list[str]:
    return sorted(_REGISTRY)


def _entry(name: str) -> tuple[str, str]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownTrainableError(
            f"unknown trainable {name!r}; known: {', '.join(trainable_names())}"
        ) from None


def config_class(name: str) -> type:
    """The config dataclass of trainable ``name`` (torch-free import)."""
    return _load(_entry(name)[1])


def run_function(name: str) -> Callable[..., None]:
    """``run(config, report, *, resume_from=None)`` of trainable ``name`` (imports torch)."""
    return _load(_entry(name)[0])


__all__ = ["UnknownTrainableError", "config_class", "run_function", "trainable_names"]
