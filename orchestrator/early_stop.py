"""Multi-objective early stopping: asynchronous successive halving on a Pareto ranking.

None of Ray's schedulers handles several objectives, and a pruning trial's score is meaningless
while its sparsity is still moving (a CAP trial is dense at the start of its schedule). So a
trial is judged only at rungs (fractions of its training) that it reaches *after* its sparsity
has settled, against the other trials recorded at the same rung:

1. Every trial's (score, sparsity) at the rung is recorded when it first gets there.
2. A trial's weakness is the number of recorded trials that dominate it: at least as sparse
   (within ``sparsity_tolerance``, so that a hair more sparsity does not shelter a weak trial)
   and with a higher score (by more than ``score_margin``).
3. Once ``min_trials`` trials are recorded at the rung, a trial whose weakness is worse than
   that of the best ``1/reduction_factor`` of them is stopped.

A stopped trial's last result is not final, so the searcher tells Optuna it was PRUNED and the
Parquet writer marks it ``pruned``: it never enters a front or the sampler's model.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from ray.tune.schedulers import FIFOScheduler, TrialScheduler

from facts import columns as C


class ParetoRungScheduler(FIFOScheduler):
    """Stop trials dominated at rungs reached after their sparsity settled.

    Args:
        score: the quality metric (maximised).
        sparsity: the sparsity metric (maximised).
        rungs: fractions of a trial's training steps at which it is judged.
        reduction_factor: keep the best ``1/reduction_factor`` at each rung.
        min_trials: how many trials a rung needs before it stops anyone.
        sparsity_tolerance: sparsities this close count as equal.
        score_margin: a dominator must beat the score by more than this.
    """

    def __init__(self, score: str = C.SCORE, sparsity: str = C.WEIGHT_SPARSITY,
                 rungs: Sequence[float] = (0.25, 0.5, 0.75), reduction_factor: float = 2.0,
                 min_trials: int = 4, sparsity_tolerance: float = 0.02,
                 score_margin: float = 0.0) -> None:
        super().__init__()
        if not rungs or any(not 0 < r < 1 for r in rungs):
            raise ValueError(f"rungs must be fractions in (0, 1), but got {list(rungs)}")
        if reduction_factor <= 1:
            raise ValueError(f"reduction_factor must be > 1, but got {reduction_factor}")
        if min_trials < 2:
            raise ValueError(f"min_trials must be >= 2, but got {min_trials}")
        self.score, self.sparsity = score, sparsity
        self.rungs = tuple(sorted(rungs))
        self.reduction_factor = reduction_factor
        self.min_trials = min_trials
        self.sparsity_tolerance = sparsity_tolerance
        self.score_margin = score_margin
        self.recorded: dict[float, dict[str, tuple[float, float]]] = {r: {} for r in self.rungs}
        self.stopped: dict[str, float] = {}  # trial id -> rung

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
        return self.decide(trial.trial_id, result)

    def decide(self, trial_id: str, result: dict) -> str:
        """CONTINUE or STOP for one result (the Tune-free core, tested directly)."""
        if result.get(C.IS_FINAL) or not result.get(C.SPARSITY_SETTLED, True):
            return TrialScheduler.CONTINUE
        score, sparsity = result.get(self.score), result.get(self.sparsity)
        step, total = result.get(C.STEP), result.get(C.TOTAL_STEPS)
        if not all(isinstance(v, (int, float)) for v in (score, sparsity, step, total)):
            return TrialScheduler.CONTINUE
        if math.isnan(score) or total <= 0:
            return TrialScheduler.CONTINUE
        progress = step / total
        for rung in self.rungs:
            entries = self.recorded[rung]
            if progress < rung or trial_id in entries:
                continue
            entries[trial_id] = (float(score), float(sparsity))
            if self._is_weak(trial_id, entries):
                self.stopped[trial_id] = rung
                return TrialScheduler.STOP
        return TrialScheduler.CONTINUE

    def _weakness(self, me: tuple[float, float], entries: dict[str, tuple[float, float]]) -> int:
        score, sparsity = me
        return sum(1 for other_score, other_sparsity in entries.values()
                   if other_sparsity >= sparsity - self.sparsity_tolerance
                   and other_score > score + self.score_margin)

    def _is_weak(self, trial_id: str, entries: dict[str, tuple[float, float]]) -> bool:
        if len(entries) < self.min_trials:
            return False
        weakness = {t: self._weakness(v, entries) for t, v in entries.items()}
        keep = max(1, math.ceil(len(entries) / self.reduction_factor))
        cutoff = sorted(weakness.values())[keep - 1]
        return weakness[trial_id] > cutoff

    def debug_string(self) -> str:
        sizes = ", ".join(f"{r:g}: {len(e)}" for r, e in self.recorded.items())
        return f"ParetoRungScheduler: {len(self.stopped)} stopped; recorded at rungs {sizes}"
