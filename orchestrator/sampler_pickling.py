"""Samplers that survive Ray's checkpoints of the searcher, whatever locks Optuna adds.

Ray pickles the search algorithm when the ``Tuner`` is built and at every searcher
checkpoint (``searcher-state-*.pkl``), so a sampler must pickle. Optuna 5.1 gave its genetic
samplers (``NSGAIISampler``, ``NSGAIIISampler``) a ``threading.Lock`` that guards a cache of
the study's generations, and a lock does not pickle: ``launch --sampler nsga2`` died in
``tune.Tuner(...)`` with ``cannot pickle '_thread.lock' object``.

:class:`PicklableLocks` writes every lock of a sampler's state as a marker and makes a fresh,
unlocked one on unpickling; a lock held across a pickle protects nothing in the copy. The
genetic samplers' generation cache is emptied on unpickling too: it is a view of the study,
which is reloaded from the journal on resume and may hold more trials than the snapshot
saw, so the view is rebuilt from the study (the truth) at the next sample.
"""

from __future__ import annotations

import threading
from typing import Any

import optuna

_LOCK = type(threading.Lock())
_RLOCK = type(threading.RLock())


class _LockMarker:
    """Stands for a lock in a pickled state; ``reentrant`` says which kind to recreate."""

    def __init__(self, reentrant: bool) -> None:
        self.reentrant = reentrant

    def make(self) -> Any:
        return threading.RLock() if self.reentrant else threading.Lock()


class PicklableLocks:
    """Mixin for an Optuna sampler: its locks are recreated, not pickled."""

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for key, value in state.items():
            if isinstance(value, (_LOCK, _RLOCK)):
                state[key] = _LockMarker(isinstance(value, _RLOCK))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state = {key: value.make() if isinstance(value, _LockMarker) else value
                 for key, value in state.items()}
        if "_cached_study_id" in state:  # Optuna's GA generation cache: rebuilt from the study
            state["_cached_study_id"] = None
        self.__dict__.update(state)


# The classes keep Optuna's names: the genetic samplers key their generations in the study by
# class name ("NSGAIISampler:generation"), so studies and warm starts stay interchangeable.
class NSGAIISampler(PicklableLocks, optuna.samplers.NSGAIISampler):
    """Optuna's NSGA-II, picklable (``--sampler nsga2``)."""


class NSGAIIISampler(PicklableLocks, optuna.samplers.NSGAIIISampler):
    """Optuna's NSGA-III, picklable (``--sampler nsga3``)."""
