"""An in-run controller that steers CAP-soft's L1 weight so a trial ends at its target sparsity.

Not in the paper (README "Fidelity", off by default). Soft movement pruning's sparsity is an
unknown function of ``final_lambda`` and everything else (the CAP README: it "cannot precisely
determine the final sparsity ratio beforehand"); on real sweeps the searched loss weights move
that function by about 10x in lambda, more than a calibration across trials can follow. The
controller closes the loop inside the trial instead.

Why it predicts instead of measuring: under Adam every mask score moves by about the learning
rate per step whatever the size of its gradient, so the scores drift together and the sparsity
at the final threshold jumps late, when they cross ``logit(threshold)`` all at once. A
controller that waits to *see* the sparsity acts after the scores have already passed (the
first version overshot a 50% target to 85% on the tiny model). So every ``every`` steps it

- takes each score's velocity over the last interval and extrapolates it to the end of the run
  along the learning-rate schedule (what the scores reach if nothing changes);
- counts the weights those projected scores would keep at the final threshold (with the 0.5%
  floor, under the counting rule): the *projected* ``weight_sparsity``;
- integrates the error in log space, ``log s += gain * (target - projected)``, clipped to
  ``[-log max_scale, log max_scale]``; the L1 weight becomes ``s * lambda(t)``.

Integral action on ``log lambda``: a 10-point shortfall with gain 3 raises lambda by 35% per
correction; near the end the projection is the measurement itself.

Example:
    >>> ctl = LambdaController(target=0.9, gain=3.0, every=10, max_scale=30.0)
    >>> ctl.due(10), ctl.due(15)
    (True, False)
    >>> round(ctl.update(step=10, projected=0.8), 4)  # projected short of 0.9: lambda up
    1.3499
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from trainables.cap.binarizers import sigmoid_threshold_mask


@dataclass
class LambdaController:
    """The state of one trial's controller: its target, gains and the current log scale."""

    target: float
    gain: float
    every: int
    max_scale: float
    log_scale: float = 0.0
    #: (step, projected sparsity, scale) of every correction, for the trial's log
    history: list[tuple[int, float, float]] = field(default_factory=list)

    @property
    def scale(self) -> float:
        """The factor on ``lambda(t)``."""
        return math.exp(self.log_scale)

    def due(self, step: int) -> bool:
        return step > 0 and step % self.every == 0

    def update(self, step: int, projected: float) -> float:
        """One correction from the sparsity ``projected`` for the end of the run."""
        bound = math.log(self.max_scale)
        self.log_scale = min(bound, max(-bound, self.log_scale
                                        + self.gain * (self.target - projected)))
        self.history.append((step, projected, self.scale))
        return self.scale


def remaining_lr_steps(step: int, total_steps: int, multiplier: Callable[[int], float]) -> float:
    """How many steps at the current learning rate the rest of the run amounts to."""
    now = multiplier(step)
    if now <= 0:
        return 0.0
    return sum(multiplier(k) for k in range(step, total_steps)) / now


def projected_kept(scores: Sequence[torch.Tensor], previous: Sequence[torch.Tensor],
                   interval: int, horizon: float, threshold: float) -> int:
    """Entries kept at ``threshold`` once each score moves on at its recent velocity."""
    kept = 0
    for now, before in zip(scores, previous):
        ahead = now + (now - before) * (horizon / interval)
        kept += int(sigmoid_threshold_mask(ahead, threshold).sum())
    return kept


def default_every(total_steps: int) -> int:
    """About 50 corrections per run, at most one per step."""
    return max(1, total_steps // 50)
