"""Parameter counting shared by every method (the CAP counting rule, methods.md 2.10).

Only encoder parameters count: the six linear weights of every layer, their biases and the
LayerNorms. Embeddings, pooler and classifier are outside, so ``weight_sparsity`` means the
same thing for SMP (heads removed) and CAP (weights masked) and both share one front.
"""

from __future__ import annotations

from torch import nn

from trainables.models import bert_of


def encoder_param_count(model: nn.Module) -> int:
    """Number of encoder parameters of a dense (or physically pruned) BERT."""
    encoder = bert_of(model).encoder
    return sum(p.numel() for name, p in encoder.named_parameters() if "mask_scores" not in name)
