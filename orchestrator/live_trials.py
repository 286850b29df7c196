"""Keep the concurrency limiter's count of running trials true to what Tune runs.

``ConcurrencyLimiter`` counts the trials it handed out and frees a slot when Tune reports one
finished. Its count is saved with the searcher's state, Tune's list of trials with the
experiment state; when the two snapshots disagree (a disk that filled up between writing one
and the other, a driver killed between them) a resumed sweep holds slots for trials Tune no
longer knows, which never finish, so the limiter never suggests again and the sweep waits
forever. This callback frees the slots of trials Tune does not know at the start of every
step; the study keeps those trials RUNNING until :mod:`orchestrator.reconcile` marks them.
"""

from __future__ import annotations

from typing import Any

from ray.tune import Callback


class LiveTrialsSync(Callback):
    """Drops the limiter's live trials that Tune does not know (lost with its state)."""

    def __init__(self, limiter: Any) -> None:
        self.limiter = limiter

    def on_step_begin(self, iteration: int, trials: list, **info: Any) -> None:
        live = getattr(self.limiter, "live_trials", None)
        if not live:
            return
        # Only trials Tune does not know at all: a known one (even one between a failure and
        # its retry) still ends through on_trial_complete, which needs its slot to tell the
        # study its result.
        stale = live - {t.trial_id for t in trials}
        if stale:
            live.difference_update(stale)
            self.limiter.num_unfinished_live_trials = len(live)
