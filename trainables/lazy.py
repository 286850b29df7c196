"""PEP 562 lazy exports: a package names its public objects, each imported on first use.

``trainables.smp`` and ``trainables.cap`` re-export torch-heavy modules next to torch-free
config modules; importing the package for its config must not load torch.

Example:
    >>> __getattr__, __dir__ = lazy_exports(__name__, {"run": "trainables.smp.trainable"})
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str],
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package``, given public name -> defining module."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        vars(sys.modules[package])[name] = value  # later look-ups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *exports})

    return __getattr__, __dir__
