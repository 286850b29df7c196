"""The parameter-counting rule and the four sparsity columns, for every method (methods.md 2.10).

The rule (CAP's ``counts_parameters.py``): only the encoder counts. ``total`` is every encoder
parameter of the *dense* model (the six linear weights of each layer, their biases and the two
LayerNorms; from the config, so a model with heads physically removed still has the dense
denominator). ``remaining`` counts the encoder parameters present, each linear weight by its
kept entries when the method says which are kept (CAP's masks), every bias and LayerNorm in
full; ``mask_scores`` are never parameters of the model being counted. Embeddings, pooler and
classifier are outside both, so ``weight_sparsity`` means the same for SMP (heads removed) and
CAP (weights masked) and both share one front.

Example:
    >>> from trainables.models import load_classifier
    >>> counts = count_params(load_classifier("tiny", 2))
    >>> counts.remaining == counts.total, counts.weight_sparsity
    (True, 0.0)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import nn

from trainables import report_keys as K
from trainables.models import bert_of
from trainables.models import iter_encoder_linears
from trainables.param_layout import layout_from_config

# the kept entries of one encoder linear's weight: a boolean [out, in] map
KeptEntries = Callable[[nn.Module], torch.Tensor]


class ParamCounts(NamedTuple):
    """Encoder parameters by the counting rule: ``(remaining, total)``, named."""

    remaining: int
    total: int

    @property
    def weight_sparsity(self) -> float:
        """``1 - remaining / total``: the ``weight_sparsity`` column."""
        return 1.0 - self.remaining / self.total


def dense_encoder_params(config: Any) -> int:
    """Encoder parameters of the dense model described by a transformers ``config``."""
    return layout_from_config(config).total


def count_params(model: nn.Module, kept: KeptEntries | None = None) -> ParamCounts:
    """Count ``model``'s encoder parameters by the rule above.

    Args:
        model: a BERT task model (or ``BertModel``), dense, head-pruned or masked.
        kept: the kept entries of an encoder linear's weight (CAP's masks); ``None``: every
            parameter present counts (dense, SMP).
    """
    weights = ({} if kept is None else
               {id(module.weight): int(kept(module).sum()) for _, _, module in
                iter_encoder_linears(model)})
    remaining = 0
    for name, param in bert_of(model).encoder.named_parameters():
        if not name.endswith("mask_scores"):
            remaining += weights.get(id(param), param.numel())
    return ParamCounts(remaining, dense_encoder_params(bert_of(model).config))


def sparsity_columns(counts: ParamCounts, head_sparsity: float) -> dict[str, float | int]:
    """The four sparsity columns every method reports, from its counts and head sparsity."""
    return {K.WEIGHT_SPARSITY: counts.weight_sparsity, K.HEAD_SPARSITY: head_sparsity,
            K.PARAMS_TOTAL: counts.total, K.PARAMS_REMAINING: counts.remaining}


__all__ = ["KeptEntries", "ParamCounts", "count_params", "dense_encoder_params",
           "sparsity_columns"]
