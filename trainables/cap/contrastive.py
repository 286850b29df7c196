"""CAP's contrastive loss against one memory bank, exactly as methods.md 2.7 describes it.

For a batch of B anchors and a bank of ``r`` vectors per dataset row, the candidates are, in
this order: for each batch example its detached anchor followed by its ``r`` bank vectors,
then all ``r`` vectors of ``floor(E / r)`` distinct bank rows drawn uniformly. Each anchor's
own detached copy is removed (logit set to -1e6); every other candidate, positives included,
stays in the softmax denominator. Positives share the dataset index (unsupervised term) or
the label (supervised term), and each term is normalised twice (pitfall 16):

    L = -(sum_i sum_{j in P_i} log p_ij / |P_i|) / #{(i, j): j in P_i, log p_ij != 0}

The outer count is the original's exactly: it counts the *non-zero* masked log-probabilities
(``torch.sum(mask_contrastive_score != 0)``), so a positive whose log-probability is exactly
0.0 in float32 (its probability rounds to 1, e.g. at a small temperature) is left out of it;
otherwise it is ``sum_i |P_i|``. (|P_i| >= r >= 1: an anchor's own bank copies are always
positives of both terms.) One deliberate guard (README "Fidelity"): where the original
divides 0 by 0 and returns NaN, we return 0, the value the loss tends to there. That happens
when every positive has log-probability exactly 0, e.g. batch size 1 with no extra rows:
the anchor's only other candidate is its own bank copy, at probability 1.

Example:
    >>> q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    >>> bank = torch.tensor([[[0.6, 0.8]], [[0.8, 0.6]]])                 # N = 2, r = 1
    >>> labels = torch.tensor([0, 0])
    >>> loss = cap_contrastive(q, torch.tensor([0, 1]), labels, bank, labels, tau=0.5,
    ...                        extra_examples=0, w_u=0.1, w_s=10.0)
    >>> round(loss.item(), 4)
    4.4153
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# The original's logit for the excluded self pair: out of numerator and denominator alike.
SELF_LOGIT = -1e6


def _check(
    q: torch.Tensor, idx: torch.Tensor, bank: torch.Tensor, tau: float, extra_examples: int
) -> None:
    if q.dim() != 2 or bank.dim() != 3 or bank.size(2) != q.size(1):
        raise ValueError(
            f"need anchors [B, d] and a bank [N, r, d], got {tuple(q.shape)} and "
            f"{tuple(bank.shape)}"
        )
    if idx.shape != (q.size(0),):
        raise ValueError(f"`idx` must have shape ({q.size(0)},), got {tuple(idx.shape)}")
    if not tau > 0:
        raise ValueError(f"contrastive temperature `tau` must be > 0, but got {tau=}")
    if extra_examples < 0:
        raise ValueError(f"`extra_examples` must be >= 0, but got {extra_examples=}")


def _positive_term(log_prob: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """The doubly normalised mean log-probability of the positives (2.7 step 6).

    Per anchor, the sum over its positives is divided by their count; the sum over anchors by
    the number of non-zero masked log-probabilities, as the original. The ``clamp(min=1)``
    guard turns the original's 0 / 0 = NaN (every positive at log-probability 0) into 0.
    """
    masked = torch.where(positives, log_prob, 0.0)
    per_anchor = masked.sum(dim=1) / positives.sum(dim=1)
    return -per_anchor.sum() / (masked != 0).sum().clamp(min=1)


def _extra_rows(
    num_rows: int, depth: int, extra_examples: int, generator: torch.Generator | None
) -> torch.Tensor:
    # floor(E / r) distinct rows, as `random.sample`; capped at N, where the original raised.
    count = min(extra_examples // depth, num_rows)
    return torch.randperm(num_rows, generator=generator)[:count]


def cap_contrastive(
    q: torch.Tensor,
    idx: torch.Tensor,
    labels: torch.Tensor | None,
    bank: torch.Tensor,
    bank_labels: torch.Tensor | None,
    tau: float,
    extra_examples: int,
    w_u: float,
    w_s: float,
    generator: torch.Generator | None = None,
    *,
    supervised: bool = True,
) -> torch.Tensor:
    """``w_u * L_unsup + w_s * L_sup`` for one bank (methods.md 2.7).

    Args:
        q: the student's anchors ``[B, d]``, L2-normalised; the only path for gradients.
        idx: dataset row of each anchor ``[B]``.
        labels: class of each anchor ``[B]`` (unused when ``supervised`` is False).
        bank: ``[N, r, d]`` stored vectors (CPU is fine; rows are moved to ``q``'s device).
        bank_labels: ``[N]`` labels in dataset order.
        tau: contrastive temperature (0.1 in the scripts).
        extra_examples: ``E``; ``floor(E / r)`` bank rows are drawn, at most ``N``.
        w_u: weight of the unsupervised (instance) term.
        w_s: weight of the supervised (same-label) term.
        generator: the random source for the extra rows (a CPU ``torch.Generator``).
        supervised: False skips the supervised term (regression tasks; methods.md 6).

    Returns:
        A scalar; exactly 0 for an empty bank (``r = 0``, the snapshot bank in epoch 0).
    """
    _check(q, idx, bank, tau, extra_examples)
    num_rows, depth, dim = bank.shape
    if depth == 0:
        return q.new_zeros(())
    if supervised and (labels is None or bank_labels is None or labels.is_floating_point()):
        raise ValueError(
            "the supervised term needs integer `labels` and `bank_labels`; "
            "pass supervised=False for regression"
        )
    batch, device = q.size(0), q.device
    rows = _extra_rows(num_rows, depth, extra_examples, generator)
    idx_cpu = idx.detach().cpu().long()
    own = bank[idx_cpu].to(device=device, dtype=q.dtype)  # [B, r, d]
    block = torch.cat([q.detach().unsqueeze(1), own], dim=1).reshape(-1, dim)
    extra = bank[rows].reshape(-1, dim).to(device=device, dtype=q.dtype)  # [m*r, d]
    logits = q @ torch.cat([block, extra]).T / tau  # [B, M]

    is_self = torch.zeros_like(logits, dtype=torch.bool)
    is_self[
        torch.arange(batch, device=device), torch.arange(batch, device=device) * (depth + 1)
    ] = True
    log_prob = F.log_softmax(logits.masked_fill(is_self, SELF_LOGIT), dim=1)

    owners = torch.cat([idx_cpu.repeat_interleave(depth + 1), rows.repeat_interleave(depth)])
    same_row = idx_cpu.to(device)[:, None] == owners.to(device)[None, :]
    loss = w_u * _positive_term(log_prob, same_row & ~is_self)
    if supervised:
        classes = torch.cat(
            [
                labels.detach().cpu().repeat_interleave(depth + 1),
                bank_labels[rows].repeat_interleave(depth),
            ]
        ).to(device)
        same_class = labels.to(device)[:, None] == classes[None, :]
        loss = loss + w_s * _positive_term(log_prob, same_class & ~is_self)
    return loss
