"""Score-to-mask binarizers with straight-through gradients (methods.md 2.3).

Two rules turn a matrix of learned importance scores ``S`` into a 0/1 mask:

- top-k (CAP-m): keep the ``int(r * numel)`` largest scores of the matrix, ``r`` the keep ratio;
- sigmoid threshold (CAP-soft): keep ``sigmoid(S) > tau``, but never fewer than
  ``int(0.005 * numel) + 1`` weights (the 0.5% floor of the original ``ThresholdBinarizer``).

Both backward passes hand the mask's gradient to the raw scores unchanged, so with
``W' = mask * W`` the scores receive ``dL/dS = dL/dW' * W`` (movement pruning).

Example:
    >>> scores = torch.tensor([[0.3, -1.0], [2.0, 0.1]])
    >>> topk_mask(scores, 0.5)
    tensor([[1., 0.],
            [1., 0.]])
"""

from __future__ import annotations

import torch
from torch import autograd

# Fraction of a matrix the sigmoid-threshold rule always keeps (`lower_bound` in the original).
FLOOR_FRACTION = 0.005


def check_keep_ratio(keep_ratio: float) -> float:
    """Validate a top-k keep ratio: a number in (0, 1]."""
    if isinstance(keep_ratio, bool) or not isinstance(keep_ratio, (int, float)):
        raise TypeError(f"top-k keep ratio must be a number in (0, 1], but got {keep_ratio!r}")
    if not (0.0 < keep_ratio <= 1.0):
        raise ValueError(f"top-k keep ratio must be in (0, 1], but got {keep_ratio=}")
    return float(keep_ratio)


def check_sigmoid_threshold(threshold: float) -> float:
    """Validate a sigmoid threshold: a number in [0, 1) (sigmoid(S) never exceeds 1)."""
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise TypeError(f"sigmoid threshold must be a number in [0, 1), but got {threshold!r}")
    if not (0.0 <= threshold < 1.0):  # also rejects NaN
        raise ValueError(f"sigmoid threshold must be in [0, 1), but got {threshold=}")
    return float(threshold)


def keep_largest(flat: torch.Tensor, k: int) -> torch.Tensor:
    """Boolean mask of exactly ``k`` largest entries of a 1-D tensor.

    One ``kthvalue`` (a selection, not a sort; pitfall 22) finds the k-th largest value ``v``.
    Entries above ``v`` are kept; among entries equal to ``v`` the first ones in flat
    (row-major) order fill the remaining places, so ties are broken deterministically and the
    count is always exactly ``k``.
    """
    n = flat.numel()
    if k >= n:
        return torch.ones_like(flat, dtype=torch.bool)
    if k <= 0:
        return torch.zeros_like(flat, dtype=torch.bool)
    value = flat.kthvalue(n - k + 1).values
    if not flat.is_cuda:  # on a GPU the check would cost a host sync per matrix: skip it
        keep = flat >= value
        if int(keep.sum()) == k:  # the common case: no tie straddles the boundary
            return keep
    return _top_with_ties(flat, value, k)


def _top_with_ties(flat: torch.Tensor, value: torch.Tensor, k: int) -> torch.Tensor:
    # Everything above the k-th largest value, then the first ties in flat order up to k.
    above = flat > value
    ties = flat == value
    return above | (ties & (ties.cumsum(0) <= k - above.sum()))


def topk_mask(scores: torch.Tensor, keep_ratio: float) -> torch.Tensor:
    """0/1 mask (dtype of ``scores``) keeping ``int(keep_ratio * numel)`` top scores.

    Local to the matrix, as CAP-m (`--global_topk` is off in every shipped script).
    """
    keep_ratio = check_keep_ratio(keep_ratio)
    k = int(keep_ratio * scores.numel())
    if k >= scores.numel():  # warm-up phase (ratio 1.0): skip the selection entirely
        return torch.ones_like(scores)
    return keep_largest(scores.reshape(-1), k).view_as(scores).to(scores.dtype)


def sigmoid_threshold_mask(scores: torch.Tensor, threshold: float) -> torch.Tensor:
    """0/1 mask (dtype of ``scores``) of ``sigmoid(scores) > threshold`` with the 0.5% floor.

    The floor, as the original: if fewer than ``int(0.005 * numel) + 1`` entries survive, keep
    that many entries with the largest raw score instead (ties broken as :func:`keep_largest`).

    Deliberate deviation on ties (README "Fidelity"): the original keeps ``scores >
    kthvalue(numel - floor)``, which keeps fewer than the floor, down to 0 entries, when
    scores tie at that value (an all-equal matrix keeps nothing). We keep exactly the floor,
    the "at least 0.5% remain" the original's comment asks for. Without ties (trained float
    scores) both keep the same entries.
    """
    threshold = check_sigmoid_threshold(threshold)
    keep = torch.sigmoid(scores) > threshold
    minimum = int(FLOOR_FRACTION * scores.numel()) + 1
    if int(keep.sum()) < minimum:
        keep = keep_largest(scores.reshape(-1), minimum).view_as(scores)
    return keep.to(scores.dtype)


class TopKBinarizer(autograd.Function):
    """``TopKBinarizer.apply(scores, keep_ratio)``: top-k mask, straight-through backward."""

    @staticmethod
    def forward(ctx, scores: torch.Tensor, keep_ratio: float) -> torch.Tensor:
        return topk_mask(scores, keep_ratio)

    @staticmethod
    def backward(ctx, grad_mask: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad_mask, None


class SigmoidThresholdBinarizer(autograd.Function):
    """``SigmoidThresholdBinarizer.apply(scores, tau)``: straight-through to the raw scores.

    The sigmoid is not differentiated in the mask path (methods.md 2.3); it enters the
    gradient only through the L1 regulariser.
    """

    @staticmethod
    def forward(ctx, scores: torch.Tensor, threshold: float) -> torch.Tensor:
        return sigmoid_threshold_mask(scores, threshold)

    @staticmethod
    def backward(ctx, grad_mask: torch.Tensor) -> tuple[torch.Tensor, None]:
        return grad_mask, None
