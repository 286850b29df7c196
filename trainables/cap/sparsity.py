"""What CAP keeps: weight entries under its masks, and attention-head sparsity (methods.md 2.10).

The counting rule itself is :mod:`trainables.sparsity`'s; CAP only says which weight entries
are kept. An entry is kept when its mask is 1 (wrapped model, masks at the state's current
threshold) or when it is non-zero (baked or dense model), so the numbers agree before and
after :func:`~trainables.cap.masked.bake_masks`.

Example:
    >>> from trainables.cap.masked import PruningState, wrap_bert
    >>> from trainables.models import load_classifier
    >>> model = wrap_bert(load_classifier("tiny", 2), PruningState("topk", 0.1))
    >>> count_remaining(model)                       # 10% of each matrix + biases/LayerNorms
    ParamCounts(remaining=3876, total=27156)
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

from trainables.cap.masked import MaskedLinear
from trainables.models import HEAD_ROW_ROLES
from trainables.models import head_layout
from trainables.models import iter_encoder_linears
from trainables.sparsity import ParamCounts
from trainables.sparsity import count_params


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


def count_remaining(model: nn.Module) -> ParamCounts:
    """``(remaining, total)`` encoder parameters, the entries CAP's masks keep counted.

    Example:
        >>> from trainables.models import load_classifier
        >>> remaining, total = count_remaining(load_classifier("tiny", 2))
        >>> remaining == total                                             # dense: all kept
        True
    """
    return count_params(model, kept_entries)


def weight_sparsity(model: nn.Module) -> float:
    """The ``weight_sparsity`` column of :func:`count_remaining`."""
    return count_remaining(model).weight_sparsity


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
