"""A Ray Tune searcher that hands out a fixed list of configurations, in order, once each.

``confirm`` re-runs chosen trials with new seeds: nothing is sampled, every value is pinned.
The searcher keeps which trial got which configuration and how far down the list it is, and
saves that with Tune's state, so ``resume`` neither repeats a configuration nor skips one.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Sequence
from typing import Any

from ray.tune.search import Searcher


class FixedConfigSearch(Searcher):
    """Suggests ``configs[0]``, ``configs[1]``, ... then ``FINISHED``."""

    def __init__(self, configs: Sequence[dict[str, Any]]) -> None:
        super().__init__(metric=None, mode=None)
        self.configs = [dict(c) for c in configs]
        self.next_index = 0
        self.assigned: dict[str, int] = {}  # Tune trial id -> position in configs
        self._roots: tuple[str, str] | None = None  # storage roots, after a moved resume

    def set_search_properties(self, metric: Any, mode: Any, config: dict, **spec: Any) -> bool:
        return True  # nothing to search: the configurations are complete

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        if trial_id not in self.assigned:
            if self.next_index >= len(self.configs):
                return Searcher.FINISHED
            self.assigned[trial_id] = self.next_index
            self.next_index += 1
        config = dict(self.configs[self.assigned[trial_id]])
        if self._roots is not None:
            from orchestrator.search import rebase_paths

            config = rebase_paths(config, *self._roots)
        return config

    def on_trial_complete(self, trial_id: str, result: dict | None = None,
                          error: bool = False) -> None:
        return None  # the results writer records every row; nothing here learns from them

    def rebase(self, journal: str, roots: tuple[str, str] | None = None) -> None:
        """Move config paths (``storage_root``) from ``roots[0]`` to ``roots[1]``: the
        experiment was resumed from another folder (:mod:`orchestrator.relocate`)."""
        self._roots = roots

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_roots"] = None  # this driver's folders, not those a later resume is given
        return state

    def save(self, checkpoint_path: str) -> None:
        state = {"configs": self.configs, "next_index": self.next_index,
                 "assigned": self.assigned}
        tmp = f"{checkpoint_path}.tmp"
        with open(tmp, "wb") as fh:
            pickle.dump(state, fh)
        os.replace(tmp, checkpoint_path)

    def restore(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "rb") as fh:
            state = pickle.load(fh)  # noqa: S301 (our own state file; resume checks its owner)
        self.configs = state["configs"]
        self.next_index = state["next_index"]
        self.assigned = state["assigned"]
