"""A CAP-baked tiny BERT for the sparse-inference tests."""

from __future__ import annotations

import torch

from trainables.cap.masked import PruningState, bake_masks, masked_linears, wrap_bert
from trainables.models import load_classifier


def baked_tiny(keep: float, seed: int = 0) -> torch.nn.Module:
    """The tiny BERT pruned by CAP-m to ``keep`` of every encoder matrix, masks baked."""
    model = load_classifier("tiny", 2, seed=seed)
    state = PruningState("topk", 1.0)
    wrap_bert(model, state)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for linear in masked_linears(model):  # movement scores stand-in: random, per weight
            linear.mask_scores.copy_(torch.randn(linear.mask_scores.shape, generator=generator))
    state.threshold = keep
    return bake_masks(model).eval()
