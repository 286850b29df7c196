"""The counting rule and head sparsity (methods.md 2.10) on the tiny BERT with set scores.

Tiny BERT per layer: Q, K, V, O are 32x32 (+32 bias), intermediate 37x32 (+37), output 32x37
(+32), two LayerNorms of 2x32. Weights 4*1024 + 2*1184 = 6464; other parameters 4*32 + 37 +
32 + 128 = 325; 6789 per layer, 27156 for the 4 layers.
"""

from __future__ import annotations

import pytest
import torch

from trainables.cap import PruningState
from trainables.cap import count_remaining
from trainables.cap import head_sparsity
from trainables.cap import masked_linears
from trainables.cap import pruned_heads
from trainables.cap import weight_sparsity
from trainables.cap import wrap_bert

TOTAL = 4 * 6789
OTHER = 4 * 325


def test_dense_model_counts_everything(tiny_model):
    assert count_remaining(tiny_model) == (TOTAL, TOTAL)
    assert weight_sparsity(tiny_model) == 0.0
    assert head_sparsity(tiny_model) == 0.0


def test_topk_counts(tiny_model):
    wrap_bert(tiny_model, PruningState("topk", 0.1))
    # int(0.1 * 1024) = 102 per square matrix, int(0.1 * 1184) = 118 per FFN matrix.
    expected = 4 * (4 * 102 + 2 * 118) + OTHER
    assert count_remaining(tiny_model) == (expected, TOTAL)  # mask_scores are not counted
    assert weight_sparsity(tiny_model) == pytest.approx(1 - expected / TOTAL)


def test_soft_counts_with_hand_set_scores_and_the_floor(tiny_model):
    wrap_bert(tiny_model, PruningState("soft", 0.5))  # kept iff sigmoid(S) > 0.5 iff S > 0
    modules = masked_linears(tiny_model)
    with torch.no_grad():
        for module in modules:
            module.mask_scores.fill_(-1.0)
        modules[0].mask_scores.view(-1)[:100] = 1.0  # layer 0 query keeps 100 weights
    # The other 23 matrices keep nothing above the threshold, so the 0.5% floor keeps
    # int(0.005 * numel) + 1 = 6 of each (numel 1024 or 1184).
    expected = 100 + 23 * 6 + OTHER
    assert count_remaining(tiny_model) == (expected, TOTAL)


def test_head_sparsity_needs_q_k_and_v_rows_all_pruned(tiny_model):
    wrap_bert(tiny_model, PruningState("soft", 0.5))
    modules = masked_linears(tiny_model)  # 6 per layer: query, key, value, ...
    with torch.no_grad():
        for module in modules:
            module.mask_scores.fill_(1.0)
        for module in modules[6:9]:  # layer 1: Q, K and V rows of head 1 (rows 8..15)
            module.mask_scores[8:16] = -1.0
        for module in modules[12:14]:  # layer 2: Q and K of head 0 only; V still alive
            module.mask_scores[0:8] = -1.0
    expected = torch.zeros(4, 4, dtype=torch.bool)
    expected[1, 1] = True
    assert torch.equal(pruned_heads(tiny_model), expected)
    assert head_sparsity(tiny_model) == 1 / 16
