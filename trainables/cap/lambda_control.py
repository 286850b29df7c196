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
- integrates the error in log space, ``log s += gain * (target - projected)``, the L1 weight
  becomes ``s * lambda(t)``.

Asymmetric, because overshooting cannot be undone: scores pushed past the threshold stay there
(the task's gradient on a pruned entry is weak), while a shortfall can still be made up as
``lambda(t)`` keeps rising along the cubic. So a step up is at most ``max_up`` in log space
(early projections underestimate: ``lambda(t)`` is still small and the task's gradient moves
the scores, and the first version saturated at 30x and overshot 90% targets by 4 points on
QQP), a step down is ``down_gain`` times larger than the gain's (the scores' momentum carries
them on for a few steps after lambda falls: capping the way up alone still overshot one of
two QQP trials by 3 points), and the scale may fall to ``1 / max_scale**2`` but rise only to
``max_scale``. Near the end the projection is the measurement itself.

The landing (``lambda_control_landing``, on with the controller): the controller acts on a
projection, and a projection errs by a point or more at the end (issue 12: 5 of 6 real QQP
trials within 2 points, all under; soft movement went past 0.90 with lambda at its floor at a
60-step budget with a score learning rate of 0.3). So once the sparsity schedule is final (its
last flat phase, and every evaluation in it), the mask's cut is moved to land on the target:
:func:`landing_offset` shifts every score so that exactly the target's share of weights
clears the final sigmoid threshold (the top scores, as the threshold ranks them). The last
phase then fine-tunes the weights under the mask that is evaluated and exported. Without the
L1 term the scores do not fall at the cap_soft_qqp table's budget (soft movement, 160 steps,
score learning rate 0.1: 0.8% sparsity at lambda 0, 0.8% at 1, 3.1% at 20, 40% at the
paper's 550), so an overshoot is the controller's late correction, which the landing undoes.
This is not in the paper; it is on only when a trial has a target.

Example:
    >>> ctl = LambdaController(target=0.9, gain=3.0, every=10, max_scale=30.0)
    >>> ctl.due(10), ctl.due(15)
    (True, False)
    >>> round(ctl.update(step=10, projected=0.8), 4)  # short of 0.9: lambda up, at most 0.1
    1.1052
    >>> round(ctl.update(step=20, projected=1.0), 4)  # over: down by 3 * gain * 0.1
    0.4493
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from trainables.cap.binarizers import FLOOR_FRACTION, sigmoid_threshold_mask


@dataclass
class LambdaController:
    """The state of one trial's controller: its target, gains and the current log scale."""

    target: float
    gain: float
    every: int
    max_scale: float
    max_up: float = 0.1  # the largest step up of log(scale) per correction
    down_gain: float = 3.0  # a step down is this many times the gain's step
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
        error = self.target - projected
        change = min(self.max_up, self.gain * error) if error >= 0 \
            else self.down_gain * self.gain * error
        self.log_scale = min(bound, max(-2 * bound, self.log_scale + change))
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


def projected_sparsity(scores: Sequence[torch.Tensor], previous: Sequence[torch.Tensor],
                       interval: int, step: int, total_steps: int,
                       multiplier: Callable[[int], float], threshold: float, fixed: int,
                       total: int) -> float:
    """The ``weight_sparsity`` at the end of the run if every score moves on at its velocity
    over the last ``interval`` steps, along the learning-rate ``multiplier``; ``fixed`` counted
    parameters are never pruned, ``total`` are counted."""
    horizon = remaining_lr_steps(step, total_steps, multiplier)
    ahead = projected_kept(scores, previous, interval, horizon, threshold)
    return 1.0 - (fixed + ahead) / total


def default_every(total_steps: int) -> int:
    """About 50 corrections per run, at most one per step."""
    return max(1, total_steps // 50)


def landing_offset(scores: Sequence[torch.Tensor], keep: int, threshold: float) -> float:
    """The shift of every score that makes exactly ``keep`` entries clear ``threshold``.

    The cut is placed halfway between the ``keep``-th and the next largest score, then
    ``sigmoid(score + offset) > threshold`` keeps the ``keep`` largest scores of all matrices
    together (ties aside). Matrices that would keep fewer than their 0.5% floor keep their
    floor (:func:`~trainables.cap.binarizers.sigmoid_threshold_mask`), so the cut is moved
    once more to give those entries back.
    """
    flat = torch.cat([s.detach().float().reshape(-1) for s in scores])
    keep = max(1, min(int(keep), flat.numel() - 1))
    logit = math.log(threshold / (1.0 - threshold)) if threshold > 0 else -math.inf
    if logit == -math.inf:  # threshold 0 keeps every entry whatever the shift
        return 0.0
    cut = _cut(flat, keep)
    floors = [int(FLOOR_FRACTION * s.numel()) + 1 for s in scores]
    extra = sum(max(0, f - int((s.detach().float() > cut).sum())) for s, f in zip(scores, floors))
    if extra:
        cut = _cut(flat, max(1, keep - extra))
    return logit - cut


def _cut(flat: torch.Tensor, keep: int) -> float:
    """A value between the ``keep``-th and the ``keep + 1``-th largest entries of ``flat``."""
    top = torch.topk(flat, keep + 1, sorted=False).values  # a selection, then its 2 smallest
    pair = torch.topk(top, 2, largest=False).values.double()
    return float(pair.sum() / 2)
