"""CAP core library: contrastive pruning of BERT (methods.md section 2).

CAP-m (top-k movement pruning) and CAP-soft (soft movement pruning) with distillation and
contrastive memory banks (RunxinXu/ContrastivePruning), rebuilt for transformers 5.

Modules, in the order a training step uses them:

- :mod:`.binarizers`: top-k and sigmoid-threshold masks with straight-through gradients (2.3)
- :mod:`.masked`: ``PruningState``, ``MaskedLinear``, ``wrap_bert``, ``bake_masks`` (2.2, 2.10)
- :mod:`.schedule`: cubic threshold, L1 weight and learning-rate schedules (2.4, 2.9)
- :mod:`.representations`: logits plus contrastive anchor in one pass; bank vectors (2.8)
- :mod:`.banks`: ``MemoryBank``, the PrC / FiC / SnC stores (2.6)
- :mod:`.contrastive`: ``cap_contrastive``, the exact 2.7 loss
- :mod:`.losses`: task loss, KD, L1 regulariser (2.5)
- :mod:`.sparsity`: the counting rule and head sparsity (2.10)

Example:
    >>> from trainables.cap import PruningState, threshold_at, weight_sparsity, wrap_bert
    >>> from trainables.models import load_classifier
    >>> state = PruningState("topk")
    >>> model = wrap_bert(load_classifier("tiny", 2), state)
    >>> state.threshold = threshold_at(50_000, 113_710, 11_000, 2, 3, 1.0, 0.03)
    >>> round(state.threshold, 3), round(weight_sparsity(model), 3)
    (0.169, 0.792)
"""

from __future__ import annotations

from trainables.cap.banks import MemoryBank
from trainables.cap.binarizers import SigmoidThresholdBinarizer
from trainables.cap.binarizers import TopKBinarizer
from trainables.cap.binarizers import check_keep_ratio
from trainables.cap.binarizers import check_sigmoid_threshold
from trainables.cap.binarizers import sigmoid_threshold_mask
from trainables.cap.binarizers import topk_mask
from trainables.cap.contrastive import cap_contrastive
from trainables.cap.losses import kd_loss
from trainables.cap.losses import l1_regulariser
from trainables.cap.losses import task_loss
from trainables.cap.masked import METHODS
from trainables.cap.masked import MaskedLinear
from trainables.cap.masked import PruningState
from trainables.cap.masked import bake_masks
from trainables.cap.masked import masked_linears
from trainables.cap.masked import wrap_bert
from trainables.cap.representations import REPRESENTATIONS
from trainables.cap.representations import encode_batch
from trainables.cap.representations import forward_with_anchor
from trainables.cap.schedule import lambda_at
from trainables.cap.schedule import lr_multiplier
from trainables.cap.schedule import threshold_at
from trainables.cap.sparsity import count_remaining
from trainables.cap.sparsity import head_sparsity
from trainables.cap.sparsity import pruned_heads
from trainables.cap.sparsity import weight_sparsity

__all__ = [
    "METHODS",
    "REPRESENTATIONS",
    "MaskedLinear",
    "MemoryBank",
    "PruningState",
    "SigmoidThresholdBinarizer",
    "TopKBinarizer",
    "bake_masks",
    "cap_contrastive",
    "check_keep_ratio",
    "check_sigmoid_threshold",
    "count_remaining",
    "encode_batch",
    "forward_with_anchor",
    "head_sparsity",
    "kd_loss",
    "l1_regulariser",
    "lambda_at",
    "lr_multiplier",
    "masked_linears",
    "pruned_heads",
    "sigmoid_threshold_mask",
    "task_loss",
    "threshold_at",
    "topk_mask",
    "weight_sparsity",
    "wrap_bert",
]
