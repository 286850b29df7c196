"""Checks for the monitoring flags of ``launch`` (``--log-to``), run before Ray starts.

Kept apart from :mod:`orchestrator.launch` so that launch only calls one function.
"""

from __future__ import annotations

import difflib
import importlib.util
from collections.abc import Iterable, Sequence

from orchestrator.errors import UsageError

#: Where learning curves can go (``--log-to``); ``tensorboard`` is the default.
LOG_TARGETS = ("tensorboard", "mlflow", "wandb", "none")
#: The package each optional logger needs and how to get it.
_NEEDS = {"mlflow": ("mlflow", "pip install 'prunesweep[mlflow]' (mlflow-skinny)"),
          "wandb": ("wandb", "pip install wandb, then `wandb login` or WANDB_MODE=offline"),
          "tensorboard": ("tensorboardX", "pip install tensorboardX")}


def did_you_mean(value: str, valid: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for a near miss among ``valid``, else ``""``; equally near
    misses are all named (``nsga``: 'nsga2' or 'nsga3'), never one picked at random."""
    close = difflib.get_close_matches(value, list(valid), n=3, cutoff=0.5)
    if not close:
        return ""
    ratio = [difflib.SequenceMatcher(None, value, c).ratio() for c in close]
    best = sorted(c for c, r in zip(close, ratio) if r == ratio[0])
    return f" (did you mean {' or '.join(map(repr, best))}?)"


def log_targets(values: Sequence[str] | None) -> tuple[str, ...]:
    """``--log-to`` values (repeatable, comma-separated) checked and installed-checked.

    Raises:
        UsageError: an unknown target, ``none`` with another target, or a target whose
            package is not installed (with how to install it).
    """
    if not values:
        return ("tensorboard",)
    targets = [t.strip().lower() for v in values for t in v.split(",") if t.strip()]
    for target in targets:
        if target not in LOG_TARGETS:
            raise UsageError(f"--log-to {target!r} is not one of {', '.join(LOG_TARGETS)}"
                             + did_you_mean(target, LOG_TARGETS))
    if "none" in targets:
        if len(set(targets)) > 1:
            raise UsageError("--log-to none cannot be combined with another target")
        return ()
    for target in dict.fromkeys(targets):
        module, how = _NEEDS[target]
        if importlib.util.find_spec(module) is None:
            raise UsageError(f"--log-to {target} needs the {module} package, which is not "
                             f"installed: {how}")
    return tuple(dict.fromkeys(targets))
