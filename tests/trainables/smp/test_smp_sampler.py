"""The Gumbel head-mask sampler (methods.md 1.4 step 3)."""

from __future__ import annotations

import pytest
import torch

from trainables.smp import sample_head_mask
from trainables.smp import topk_head_mask


@pytest.mark.parametrize(("layers", "heads"), [(4, 4), (6, 12), (24, 16), (3, 5)])
def test_counts_over_many_seeds(layers, heads):
    """L//2 untouched layers keep all H heads; the others exactly H//2 (any L, H)."""
    base = torch.Generator().manual_seed(layers * 100 + heads)
    for seed in range(60):
        scores = 0.5 + torch.rand(layers, heads, generator=base)  # in (0.5, 1.5)
        mask = sample_head_mask(scores, torch.Generator().manual_seed(seed)).detach()
        assert mask.shape == (layers, heads)
        assert set(mask.unique().tolist()) <= {0.0, 1.0}
        kept = mask.sum(dim=1)
        assert int((kept == heads).sum()) == layers // 2
        assert int((kept == heads // 2).sum()) == layers - layers // 2


def test_gradients_reach_the_scores():
    scores = (0.5 + torch.rand(4, 4)).requires_grad_()
    mask = sample_head_mask(scores, torch.Generator().manual_seed(1))
    (mask * torch.arange(16.0).reshape(4, 4)).sum().backward()
    assert scores.grad is not None and scores.grad.abs().sum() > 0
    intact = (mask.detach().sum(1) == 4).nonzero().flatten()
    assert scores.grad[intact].abs().sum() == 0  # untouched layers carry no gradient


def test_reproducible_with_a_generator():
    scores = 0.5 + torch.rand(6, 12)
    first = sample_head_mask(scores, torch.Generator().manual_seed(7))
    second = sample_head_mask(scores, torch.Generator().manual_seed(7))
    assert torch.equal(first, second)


def test_follows_the_scores():
    """A head with a much larger logit is chosen in (almost) every masked layer."""
    scores = torch.full((2, 4), 0.0)
    scores[:, 2] = 2.0
    hits = 0
    for seed in range(200):
        mask = sample_head_mask(scores, torch.Generator().manual_seed(seed))
        hits += int(mask[:, 2].sum() == 2)
    assert hits > 150


def test_topk_variant():
    scores = torch.tensor([[0.1, 0.9, 0.5, 0.7], [1.5, 0.2, 0.3, 1.9]])
    mask = topk_head_mask(scores)
    assert mask.tolist() == [[0, 1, 0, 1], [1, 0, 0, 1]]


def test_rejects_bad_select():
    with pytest.raises(ValueError, match="select"):
        sample_head_mask(torch.rand(2, 4), select=0)
