"""Meta-training settings: one owner for their defaults and rules (torch-free).

:class:`MetaTrainConfig` is what :func:`~trainables.smp.meta_training.meta_train` takes; a
trial sets it through ``SmpConfig``'s ``meta_*`` fields, named in :data:`META_FIELDS`, whose
defaults and checks come from here, so the two cannot drift apart.

Example:
    >>> MetaTrainConfig().updates, META_FIELDS["meta_updates"]
    (8000, 'updates')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PAIR_REPRESENTATIONS = ("pooler", "mean")

# SmpConfig field -> MetaTrainConfig field (the ones a trial may set)
META_FIELDS = {"meta_updates": "updates", "meta_batch_size": "batch_size",
               "meta_accumulation": "accumulation", "meta_learning_rate": "lr",
               "meta_seed": "seed", "meta_pair_representation": "pair_representation"}


def meta_problem(values: Mapping[str, Any]) -> tuple[str, Any, str] | None:
    """The first ``(field, value, rule)`` that meta-training settings break, or None.

    ``values`` holds :class:`MetaTrainConfig` fields (any subset).
    """
    for name in ("updates", "batch_size", "accumulation", "save_every", "ndf"):
        value = values.get(name, 1)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            return name, value, ">= 1"
    for name in ("lr", "max_grad_norm"):
        if not values.get(name, 1.0) > 0:
            return name, values[name], "> 0"
    representation = values.get("pair_representation", PAIR_REPRESENTATIONS[0])
    if representation not in PAIR_REPRESENTATIONS:
        return "pair_representation", representation, f"one of {', '.join(PAIR_REPRESENTATIONS)}"
    return None


@dataclass(frozen=True)
class MetaTrainConfig:
    """Meta-training settings; defaults are the original's (methods.md 1.8).

    ``updates`` defaults to the 8000 hard-coded in ``SMP:train_all.py:138`` (the README's
    ``--max_steps 6000`` was ignored).
    """

    updates: int = 8000
    batch_size: int = 60
    accumulation: int = 8
    lr: float = 2e-2
    max_grad_norm: float = 1.0
    save_every: int = 500
    ndf: int = 8
    seed: int = 42
    pair_representation: str = "pooler"  # "mean": not the original's; see relational_loss

    def __post_init__(self) -> None:
        problem = meta_problem(self.__dict__)
        if problem is not None:
            name, value, rule = problem
            raise ValueError(f"`{name}` must be {rule}, but got {name}={value!r}.")


__all__ = ["META_FIELDS", "PAIR_REPRESENTATIONS", "MetaTrainConfig", "meta_problem"]
