"""The calibrated map for CAP-soft and soft movement: which ``final_lambda`` hits a sparsity.

CAP-soft's sparsity is an unknown, monotone function of the L1 weight ``final_lambda`` (more
penalty, fewer weights), shaped by everything else that moves the scores: the score learning
rate, the schedule length, the loss weights. The model, fitted on every finished trial:

    sparsity = ceiling * sigmoid(a + b * (log(lambda) - centre) + sum_j w_j * z_j)

- ``ceiling`` is the most the sigmoid rule can remove on this model (each matrix keeps
  ``int(0.005 * numel) + 1`` entries; ``trainables.knob_maps.soft_max_sparsity``).
- ``b >= 0.05`` (a bound of the fit) keeps the curve monotone increasing in ``log(lambda)``.
- ``z_j`` are the other *searched* knobs (loss weights, temperature, ...; log-scaled ones in
  log), scaled to [-1, 1] by their ranges, with ridge-penalised weights ``w_j``: they can shift
  the curve once the data says so, and stay near 0 while it does not. Settings that are the
  same for every trial of a sweep but differ between sweeps (score learning rate, schedule,
  model, task) condition the fit exactly: only observations with the same values enter
  (``condition_key``), so warm-start rows of another schedule are not mixed in.
- Least squares in sparsity units, with weak priors ``a ~ 1.75``, ``b ~ 1.5`` (the dev-profile
  curve of the README has slope 1-1.7 in these units) so that zero or one observation still
  gives an answer; the data overrule them from the second point on.
- The fit is local to the target: observations are weighted by how near their sparsity is to
  the target, in logit units (kernel width 1.0, floor weight 0.05), so one logistic line need
  not fit the whole curve (the real one bends near the ceiling). Each target's lambda is then
  made non-decreasing across the sorted targets.

Exploration while the model is uncertain: before any observation, trials use the prior, whose
lambdas for the sorted targets spread over the space's range (the first trials bracket it);
while no observation of this target's condition lies on the far side of the target
(``sparsity >= target`` when asking for more, ``<=`` when asking for less), the step beyond
the nearest observed lambda is capped at ``max_step`` log units (a factor of 4.5): an
extrapolating logistic would otherwise ask for absurd lambdas after one point.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

PRIOR_SLOPE = 1.5
# The prior puts the middle of the space's lambda range at 85% of the ceiling, so the range's
# ends sit near 30% and 99% (what cap.py's range was chosen for; the README's dev QQP curve:
# 100 -> 47%, 3000 -> 99%).
PRIOR_CENTRE_LOGIT = 1.75
MIN_SLOPE = 0.05
KERNEL_WIDTH = 1.0  # logit units
KERNEL_FLOOR = 0.05
RIDGE = 0.05  # residual weight per covariate weight (sparsity units per unit of w)
PRIOR_WEIGHT = (0.002, 0.005)  # residual weights of (a - centre logit), (b - slope)
MAX_STEP = 1.5  # log units beyond the nearest observation while not bracketed


@dataclass(frozen=True)
class Observation:
    """One finished trial: its lambda, what it reached, its other knobs."""

    log_lambda: float
    sparsity: float
    covariates: Mapping[str, float] = field(default_factory=dict)  # raw searched values
    key: tuple = ()  # the condition (settings fixed within a sweep)
    source: str = ""  # trial id or experiment name, for reports


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def _logit(p: float) -> float:
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


@dataclass(frozen=True)
class Covariate:
    """A searched knob that may shift the curve, scaled to [-1, 1] over its range."""

    name: str
    low: float
    high: float
    log: bool = False

    def scaled(self, value: float) -> float:
        lo, hi, v = self.low, self.high, float(value)
        if self.log:
            lo, hi, v = math.log(lo), math.log(hi), math.log(max(v, 1e-300))
        return 0.0 if hi <= lo else 2.0 * (v - lo) / (hi - lo) - 1.0


@dataclass(frozen=True)
class CalibrationFit:
    """Fitted parameters of one local fit; :meth:`predict` and :meth:`invert` use them."""

    a: float
    b: float
    weights: tuple[float, ...]
    ceiling: float
    centre: float
    covariates: tuple[Covariate, ...]
    points: int  # observations of this condition

    def _shift(self, knobs: Mapping[str, Any]) -> float:
        return sum(w * c.scaled(knobs[c.name]) for w, c in zip(self.weights, self.covariates)
                   if knobs.get(c.name) is not None)

    def predict(self, log_lambda: float, knobs: Mapping[str, Any] | None = None) -> float:
        """Predicted sparsity at ``log(lambda)`` with the other knobs ``knobs``."""
        z = self.a + self.b * (log_lambda - self.centre) + self._shift(knobs or {})
        return self.ceiling * _sigmoid(z)

    def invert(self, target: float, knobs: Mapping[str, Any] | None = None) -> float:
        """The ``log(lambda)`` the fit predicts reaches ``target``."""
        z = _logit(target / self.ceiling)
        return self.centre + (z - self.a - self._shift(knobs or {})) / self.b


class LambdaCalibration:
    """Fits :class:`CalibrationFit` on observations and proposes lambdas for targets.

    Args:
        ceiling: the highest sparsity the method can reach on this model.
        log_range: ``(log low, log high)`` of the space's ``final_lambda`` range; its middle
            is the curve's centre (the prior's 85% point).
        covariates: the other searched knobs that may shift the curve.
        bounds: ``(log low, log high)`` that proposals are clipped to.
    """

    def __init__(self, ceiling: float, log_range: tuple[float, float],
                 covariates: Sequence[Covariate] = (),
                 bounds: tuple[float, float] | None = None) -> None:
        self.ceiling = ceiling
        self.centre = 0.5 * (log_range[0] + log_range[1])
        self.covariates = tuple(covariates)
        self.bounds = bounds or (log_range[0] - math.log(10), log_range[1] + math.log(10))

    def fit(self, observations: Sequence[Observation], focus: float | None = None
            ) -> CalibrationFit:
        """Least-squares fit, weighted towards sparsities near ``focus`` when given."""
        import numpy as np
        from scipy.optimize import least_squares

        covs = self.covariates
        u = np.array([o.log_lambda for o in observations], dtype=float)
        s = np.array([o.sparsity for o in observations], dtype=float)
        z = np.array([[c.scaled(o.covariates.get(c.name, _mid(c))) for c in covs]
                      for o in observations], dtype=float).reshape(len(observations), len(covs))
        if focus is not None and len(observations):
            distance = (np.array([_logit(x / self.ceiling) for x in s])
                        - _logit(focus / self.ceiling)) / KERNEL_WIDTH
            kernel = np.maximum(np.exp(-0.5 * distance ** 2), KERNEL_FLOOR)
        else:
            kernel = np.ones(len(observations))
        root = np.sqrt(kernel)

        def residuals(theta: np.ndarray) -> np.ndarray:
            a, b, w = theta[0], theta[1], theta[2:]
            logits = a + b * (u - self.centre) + (z @ w if len(covs) else 0.0)
            fitted = self.ceiling / (1.0 + np.exp(-logits))
            prior = [PRIOR_WEIGHT[0] * (a - PRIOR_CENTRE_LOGIT),
                     PRIOR_WEIGHT[1] * (b - PRIOR_SLOPE)]
            return np.concatenate([root * (fitted - s), prior, RIDGE * w])

        start = np.concatenate([[PRIOR_CENTRE_LOGIT, PRIOR_SLOPE], np.zeros(len(covs))])
        lower = np.concatenate([[-30.0, MIN_SLOPE], np.full(len(covs), -5.0)])
        upper = np.concatenate([[30.0, 30.0], np.full(len(covs), 5.0)])
        solved = least_squares(residuals, start, bounds=(lower, upper))
        theta = solved.x
        return CalibrationFit(float(theta[0]), float(theta[1]), tuple(map(float, theta[2:])),
                              self.ceiling, self.centre, covs, len(observations))

    def propose(self, target: float, knobs: Mapping[str, Any],
                observations: Sequence[Observation], targets: Sequence[float] = ()
                ) -> tuple[float, float]:
        """``(final_lambda, predicted_sparsity)`` for a trial aimed at ``target``.

        ``observations`` must already be those of the trial's condition. ``targets`` (all of
        the sweep's) keeps the proposals monotone: the lambda for ``target`` is at least that
        of every smaller target and at most that of every larger one.
        """
        target = min(target, self.ceiling * 0.999)
        wanted = self._log_lambda(target, knobs, observations)
        for other in targets:
            if other < target:
                wanted = max(wanted, self._log_lambda(other, knobs, observations))
            elif other > target:
                wanted = min(wanted, self._log_lambda(other, knobs, observations))
        wanted = min(max(wanted, self.bounds[0]), self.bounds[1])
        fit = self.fit(observations, focus=target)
        return math.exp(wanted), fit.predict(wanted, knobs)

    def _log_lambda(self, target: float, knobs: Mapping[str, Any],
                    observations: Sequence[Observation]) -> float:
        fit = self.fit(observations, focus=target)
        wanted = fit.invert(target, knobs)
        above = [o.log_lambda for o in observations if o.sparsity >= target]
        below = [o.log_lambda for o in observations if o.sparsity <= target]
        if observations and not above:  # every trial fell short: more lambda, but bounded
            wanted = min(wanted, max(o.log_lambda for o in observations) + MAX_STEP)
        if observations and not below:  # every trial overshot: less lambda, bounded
            wanted = max(wanted, min(o.log_lambda for o in observations) - MAX_STEP)
        return min(max(wanted, self.bounds[0]), self.bounds[1])


def _mid(covariate: Covariate) -> float:
    if covariate.log:
        return math.sqrt(covariate.low * covariate.high)
    return 0.5 * (covariate.low + covariate.high)
