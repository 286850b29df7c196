"""Sparsity accounting: CAP's counting rule and attention-head sparsity (methods.md 2.10).

The counting rule of ``counts_parameters.py``: only the encoder counts. The denominator is
every encoder parameter except ``mask_scores`` (the 6·L weight matrices, their biases and the
LayerNorms); the numerator counts the kept entries of each weight matrix plus every bias and
LayerNorm parameter. Embeddings, pooler and classifier are outside both.

A weight entry is kept when its mask is 1 (wrapped model, masks at the state's current
threshold) or when it is non-zero (baked or dense model), so the numbers agree before and
after :func:`~trainables.cap.masked.bake_masks`.

Example:
    >>> from trainables.cap.masked import PruningState, wrap_bert
    >>> from trainables.models import load_classifier
    >>> model = wrap_bert(load_classifier("tiny", 2), PruningState("topk", 0.1))
    >>> count_remaining(model)                       # 10% of each matrix + biases/LayerNorms
    (3876, 27156)
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

from trainables.cap.masked import MaskedLinear
from trainables.models import HEAD_ROW_ROLES
from trainables.models import bert_of
from trainables.models import head_layout
from trainables.models import iter_encoder_linears


def kept_entries(module: nn.Module) -> torch.Tensor:
    """Boolean ``[out, in]`` map of the weight entries that survive pruning."""
    with torch.no_grad():
        if isinstance(module, MaskedLinear):
            return module.mask() != 0
        return module.weight != 0


def iter_kept(model: nn.Module) -> Iterator[tuple[int, str, nn.Module, torch.Tensor]]:
    """``(layer_index, role, module, kept)`` for the six encoder linears of every layer."""
    for index, role, module in iter_encoder_linears(model):
        yield index, role, module, kept_entries(module)


def count_remaining(model: nn.Module) -> tuple[int, int]:
    """``(remaining, total)`` encoder parameters under CAP's counting rule.

    Example:
        >>> from trainables.models import load_classifier
        >>> remaining, total = count_remaining(load_classifier("tiny", 2))
        >>> remaining == total                                             # dense: all kept
        True
    """
    kept = {id(module.weight): int(mask.sum()) for _, _, module, mask in iter_kept(model)}
    remaining = total = 0
    for name, param in bert_of(model).encoder.named_parameters():
        if name.endswith("mask_scores"):
            continue
        total += param.numel()
        remaining += kept.get(id(param), param.numel())
    return remaining, total


def weight_sparsity(model: nn.Module) -> float:
    """``1 - remaining / total`` of :func:`count_remaining` (the ``weight_sparsity`` column)."""
    remaining, total = count_remaining(model)
    return 1.0 - remaining / total


def pruned_heads(model: nn.Module) -> torch.Tensor:
    """Boolean ``[layers, heads]``: True where the head's Q, K and V rows are all pruned."""
    layers, heads, head_size = head_layout(model)
    alive = torch.zeros(layers, heads, dtype=torch.bool)
    for index, role, _, kept in iter_kept(model):
        if role in HEAD_ROW_ROLES:
            # Output rows h*d .. (h+1)*d - 1 belong to head h.
            alive[index] |= kept.view(heads, head_size, -1).flatten(1).any(dim=1).cpu()
    return ~alive


def head_sparsity(model: nn.Module) -> float:
    """Fraction of attention heads whose Q, K and V rows are all pruned."""
    return float(pruned_heads(model).float().mean())
