"""Binarizers (methods.md 2.3): exact top-k counts, the sigmoid floor, straight-through."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from trainables.cap import MaskedLinear
from trainables.cap import PruningState
from trainables.cap import sigmoid_threshold_mask
from trainables.cap import topk_mask
from trainables.cap.binarizers import _top_with_ties
from trainables.cap.binarizers import keep_largest


@pytest.mark.parametrize("ratio", [1.0, 0.97, 0.5, 0.1, 0.03, 0.001])
@pytest.mark.parametrize("kind", ["random", "zeros", "few_values"])
def test_topk_keeps_exactly_int_r_numel(ratio, kind):
    gen = torch.Generator().manual_seed(0)
    scores = {
        "random": torch.randn(37, 32, generator=gen),
        "zeros": torch.zeros(37, 32),  # the all-tied start of training (pitfall 22)
        "few_values": torch.randint(0, 3, (37, 32), generator=gen).float(),
    }[kind]
    mask = topk_mask(scores, ratio)
    assert mask.dtype == scores.dtype and mask.shape == scores.shape
    assert int(mask.sum()) == int(ratio * scores.numel())
    assert set(mask.unique().tolist()) <= {0.0, 1.0}


def test_topk_keeps_the_largest_and_breaks_ties_in_row_major_order():
    scores = torch.tensor([[0.0, 5.0, 0.0], [0.0, -1.0, 0.0]])
    # k = int(0.5 * 6) = 3: the 5.0, then the first two zeros in flat order.
    assert topk_mask(scores, 0.5).tolist() == [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]
    assert keep_largest(torch.zeros(5), 2).tolist() == [True, True, False, False, False]
    assert topk_mask(torch.zeros(4, 4), 1.0).sum() == 16  # warm-up: all weights kept


@pytest.mark.parametrize("kind", ["random", "zeros", "few_values"])
def test_the_sync_free_gpu_path_keeps_exactly_k(kind):
    gen = torch.Generator().manual_seed(2)
    flat = {
        "random": torch.randn(500, generator=gen),
        "zeros": torch.zeros(500),
        "few_values": torch.randint(0, 4, (500,), generator=gen).float(),
    }[kind]
    for k in (1, 137, 250, 499):
        kept = _top_with_ties(flat, flat.kthvalue(500 - k + 1).values, k)
        assert torch.equal(kept, keep_largest(flat, k))
        assert int(kept.sum()) == k


def test_topk_matches_a_full_sort_without_ties():
    scores = torch.randn(64, 48, generator=torch.Generator().manual_seed(1))
    k = int(0.3 * scores.numel())
    expected = torch.zeros(scores.numel())
    expected[scores.flatten().argsort(descending=True)[:k]] = 1
    assert torch.equal(topk_mask(scores, 0.3), expected.view_as(scores))


def test_sigmoid_threshold_without_floor():
    scores = torch.full((20, 20), -3.0)
    scores[:5] = 2.0  # 100 entries with sigmoid 0.88
    mask = sigmoid_threshold_mask(scores, 0.1)
    assert mask[:5].all() and mask.sum() == 100
    assert sigmoid_threshold_mask(scores, 0.0).sum() == 400  # sigmoid(S) > 0 for every S


@pytest.mark.parametrize("fill", ["ramp", "zeros"])
def test_sigmoid_threshold_floor_keeps_int_half_percent_plus_one(fill):
    numel = 37 * 32
    floor = int(0.005 * numel) + 1
    assert floor == 6
    if fill == "ramp":
        scores = torch.linspace(-9, -5, numel).view(37, 32)  # every sigmoid < 0.01
    else:
        scores = torch.zeros(37, 32)  # sigmoid 0.5, below the threshold, all tied
    mask = sigmoid_threshold_mask(scores, 0.9)
    assert int(mask.sum()) == floor
    if fill == "ramp":  # the floor keeps the largest raw scores
        assert mask.flatten()[-floor:].all()


def test_floor_not_applied_when_enough_survive():
    numel = 1000
    scores = torch.full((numel,), -5.0)
    scores[:6] = 5.0  # exactly int(0.005 * 1000) + 1 = 6 survive: no floor
    scores[6:12] = 4.0  # would be kept too if the floor were wrongly applied as top-12
    assert sigmoid_threshold_mask(scores, 0.99).sum() == 6


@pytest.mark.parametrize("method,threshold", [("topk", 0.4), ("soft", 0.5)])
def test_straight_through_gradient_is_grad_times_weight(method, threshold):
    torch.manual_seed(0)
    linear = nn.Linear(8, 6)
    state = PruningState(method, threshold)
    masked = MaskedLinear.from_linear(linear, state, mask_init=0.0)
    with torch.no_grad():
        masked.mask_scores.normal_()
    x = torch.randn(5, 8)
    masked(x).pow(2).sum().backward()

    pruned = (linear.weight * masked.mask()).detach().requires_grad_()
    F.linear(x, pruned, linear.bias).pow(2).sum().backward()
    assert torch.allclose(masked.mask_scores.grad, pruned.grad * linear.weight.detach())
    assert torch.allclose(masked.weight.grad, pruned.grad * masked.mask().detach())


@pytest.mark.parametrize("bad", [0.0, -0.1, 1.5, math.nan, "0.5", True])
def test_invalid_keep_ratio(bad):
    error = TypeError if isinstance(bad, (str, bool)) else ValueError
    with pytest.raises(error, match=r"keep ratio must be"):
        PruningState("topk", bad)
    with pytest.raises(error, match=r"keep ratio must be"):
        topk_mask(torch.zeros(3), bad)


@pytest.mark.parametrize("bad", [1.0, -0.01, 2.0, math.nan])
def test_invalid_sigmoid_threshold(bad):
    with pytest.raises(ValueError, match=r"sigmoid threshold must be in \[0, 1\)"):
        PruningState("soft", bad)
    state = PruningState("soft")
    with pytest.raises(ValueError, match=r"sigmoid threshold"):
        state.threshold = bad
    assert state.threshold == 0.0  # a rejected value leaves the state unchanged


def test_invalid_method_and_defaults():
    with pytest.raises(ValueError, match=r"`method` must be one of \('topk', 'soft'\)"):
        PruningState("magnitude")
    assert PruningState("topk").threshold == 1.0
    assert PruningState("soft").threshold == 0.0
