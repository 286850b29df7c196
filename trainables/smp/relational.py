"""SMP's representation-structure loss (methods.md 1.4 step 5, ``SMP:pruner/pruner.py:83-107``,
``:176-206``): a relational KL between the batch's cosine geometry before and after masking.

Example:
    >>> feats = feature_mask(32, torch.Generator().manual_seed(0))
    >>> x = torch.randn(6, 32)
    >>> float(relational_kl(x, x, feats)) < 1e-6
    True
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from trainables.smp.meta_config import PAIR_REPRESENTATIONS

SIMILARITY_SCALE = 10.0  # x10 = temperature 0.1
SINGLE_SENTENCE_FACTOR = 10.0  # single-sentence tasks' loss is multiplied by 10
FEATURE_DROP = 0.8  # keep ~20% of the hidden dims, scaled by 5


def feature_mask(hidden: int, generator: torch.Generator | None = None,
                 p: float = FEATURE_DROP, device: torch.device | str = "cpu") -> torch.Tensor:
    """``F.dropout(ones(hidden), p)`` drawn from ``generator``: shared by the dense and the
    masked pass, fresh per micro-step."""
    source = generator.device if generator is not None else device
    keep = torch.rand(hidden, generator=generator, device=source) >= p
    return (keep.float() / (1.0 - p)).to(device)


def cos_dist(x: torch.Tensor) -> torch.Tensor:
    """Scaled cosine similarities of centred rows, as rows of 2 adjacent columns.

    Centre on the mean of *all* rows, then drop the last row when the batch is odd,
    L2-normalise, form the N x N similarity matrix x10 and reshape to ``[N*N/2, 2]``:
    each row is (sim(i, 2m), sim(i, 2m+1)).
    """
    centred = x - x.mean(dim=0, keepdim=True)
    centred = centred[: x.shape[0] - x.shape[0] % 2]
    # F.normalize differs from the original's x / |x| only for an all-zero row
    unit = F.normalize(centred, dim=-1)
    return (unit @ unit.T * SIMILARITY_SCALE).reshape(-1, 2)


def relational_kl(dense: torch.Tensor, pruned: torch.Tensor, features: torch.Tensor,
                  factor: float = 1.0) -> torch.Tensor:
    """Mean elementwise KL(dense pair-softmax || pruned pair-softmax), times ``factor``.

    ``KLDivLoss(reduction='none')`` semantics: target probabilities from the dense pass,
    log-probabilities (``log_softmax(dim=-1)``, pitfall 9) from the masked pass.
    """
    target = cos_dist(dense * features).softmax(dim=-1)
    log_pred = cos_dist(pruned * features).log_softmax(dim=-1)
    return F.kl_div(log_pred, target, reduction="none").mean() * factor


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Masked mean of token states ``[B, S, D] -> [B, D]``."""
    mask = attention_mask.to(hidden.dtype).unsqueeze(-1)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1)


def relational_loss(dense_out, pruned_out, attention_mask: torch.Tensor, pair: bool,
                    features: torch.Tensor, pair_representation: str = "pooler") -> torch.Tensor:
    """The meta-training loss from two ``BertModel`` outputs of the same batch.

    Pair tasks compare pooler outputs; single-sentence tasks compare masked means of the
    last-layer states and multiply the loss by 10 (``SMP:pruner/pruner.py:200-204``).
    ``pair_representation="mean"`` (not in the original) treats pair tasks like single
    sentences, for models whose pooler was never trained (sentence-transformers checkpoints
    such as the packaged MiniLM: their pooler is still at its initialisation).
    """
    if pair_representation not in PAIR_REPRESENTATIONS:
        raise ValueError(f"`pair_representation` must be one of {PAIR_REPRESENTATIONS}, "
                         f"but got {pair_representation!r}")
    if pair and pair_representation == "pooler":
        return relational_kl(dense_out.pooler_output, pruned_out.pooler_output, features)
    dense = mean_pool(dense_out.last_hidden_state, attention_mask)
    pruned = mean_pool(pruned_out.last_hidden_state, attention_mask)
    return relational_kl(dense, pruned, features, SINGLE_SENTENCE_FACTOR)
