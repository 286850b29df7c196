"""The stochastic head mask of meta-training (methods.md 1.4 step 3).

Faithful to ``SMP:pruner/pruner.py:150-170`` with the reshape indexed by H, not L
(pitfall 6, section 6). Randomness comes from a ``torch.Generator`` when one is given, so
that meta-training can be resumed bit for bit.

Example:
    >>> scores = torch.full((4, 4), 1.0, requires_grad=True)
    >>> mask = sample_head_mask(scores, torch.Generator().manual_seed(0))
    >>> sorted(int(r.sum()) for r in mask.detach())
    [2, 2, 4, 4]
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def gumbel_one_hots(logits: torch.Tensor, generator: torch.Generator | None = None,
                    tau: float = 1.0) -> torch.Tensor:
    """Hard straight-through Gumbel-softmax over the last dim (``F.gumbel_softmax``
    with ``hard=True``, but drawing its noise from ``generator``)."""
    # noise is drawn on the generator's device (a CPU generator may drive a GPU model)
    device = generator.device if generator is not None else logits.device
    noise = torch.empty(logits.shape, device=device).exponential_(generator=generator)
    noise = noise.log().neg().to(logits.device, logits.dtype)
    soft = ((logits + noise) / tau).softmax(dim=-1)
    hard = F.one_hot(soft.argmax(dim=-1), logits.shape[-1]).to(soft.dtype)
    return hard - soft.detach() + soft


def _union_until(draws: torch.Tensor, select: int) -> torch.Tensor:
    """Union (max) of the first j draws for the first j in select..A-1 that covers exactly
    ``select`` heads, else of the first A-1 draws (the original loop's bounds).

    The count uses the hard one-hots; the original compared the float sum of
    straight-through values, which can miss by an ulp (then it over-selects).
    """
    attempts = draws.shape[0]
    hard = draws.detach() > 0.5
    distinct = hard.cummax(dim=0).values.sum(dim=-1)  # distinct[j-1] = heads in first j
    hits = (distinct[select - 1 : attempts - 1] == select).nonzero()  # j = select + hit
    stop = select + int(hits[0]) if len(hits) else attempts - 1
    return draws[:stop].max(dim=0).values


def sample_head_mask(
    scores: torch.Tensor,
    generator: torch.Generator | None = None,
    *,
    attempts: int | None = None,
    select: int | None = None,
) -> torch.Tensor:
    """A float keep-mask ``[L, H]`` drawn from the CNN scores, differentiable w.r.t. them.

    1. ``attempts`` (default 5H) hard Gumbel one-hot draws per layer, scores as logits,
       temperature 1.
    2. A random ``L // 2`` layers keep all heads (no gradient).
    3. Every other layer keeps the union of the first j draws, for the first j in
       ``select..attempts-1`` reaching exactly ``select`` (default H // 2) distinct heads
       (rarely fewer: when the draws never reach ``select`` distinct heads).

    Args:
        scores: ``[L, H]`` pruner scores in (0, 2).
        generator: source of the Gumbel noise and the layer choice; global RNG if None.
        attempts: draws per layer, default ``5 * H``.
        select: heads kept in a masked layer, default ``H // 2``.
    """
    layers, heads = scores.shape
    attempts = 5 * heads if attempts is None else attempts
    select = heads // 2 if select is None else select
    if not 1 <= select <= heads or attempts <= select:
        raise ValueError(f"need 1 <= select <= H < attempts, got {select=}, {heads=}, {attempts=}")
    draws = gumbel_one_hots(scores.unsqueeze(1).expand(layers, attempts, heads), generator)
    device = generator.device if generator is not None else "cpu"
    order = torch.randperm(layers, generator=generator, device=device)
    intact = set(order[: layers // 2].tolist())
    rows = [
        torch.ones_like(scores[i]) if i in intact else _union_until(draws[i], select)
        for i in range(layers)
    ]
    return torch.stack(rows)


def topk_head_mask(scores: torch.Tensor, select: int | None = None) -> torch.Tensor:
    """The deterministic variant (``SMP:pruner/pruner.py:171-174``): keep the ``select``
    (default H // 2) highest-scoring heads in every layer; float ``[L, H]``, no gradient."""
    select = scores.shape[1] // 2 if select is None else select
    top = scores.detach().topk(select, dim=1).indices
    return torch.zeros_like(scores, dtype=torch.float).scatter_(1, top, 1.0)
