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
- :mod:`.losses`: KD and the L1 regulariser (2.5; the task loss is every method's,
  :func:`trainables.evaluation.task_loss`)
- :mod:`.sparsity`: the counting rule under the masks, and head sparsity (2.10)
- :mod:`.lambda_control`: the in-run controller of CAP-soft's L1 weight (``--targets``; not
  in the paper, off by default)

The trial side:

- :mod:`.config`: ``CapConfig``, torch-free
- :mod:`.teacher`: the shared ``teacher`` artifact and its checks
- :mod:`.teacher_outputs`: its logits and FiC rows, and the PrC bank, as shared
  memory-mapped artifacts
- :mod:`.memory`: a trial's PrC/FiC/SnC banks
- :mod:`.training`: the training step, a fine-tune loop ``Method`` (its final checkpoint's
  stock folder is the masks baked into a plain BERT)
- :mod:`.trainable`: ``run``, the ``cap`` trainable

Names are imported lazily (PEP 562), so the orchestrator reads ``trainables.cap.config``
without loading torch.

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

from trainables.lazy import lazy_exports

# public name -> defining module; imported on first use
_EXPORTS: dict[str, str] = {
    "MemoryBank": "trainables.cap.banks",
    "SigmoidThresholdBinarizer": "trainables.cap.binarizers",
    "TopKBinarizer": "trainables.cap.binarizers",
    "check_keep_ratio": "trainables.cap.binarizers",
    "check_sigmoid_threshold": "trainables.cap.binarizers",
    "sigmoid_threshold_mask": "trainables.cap.binarizers",
    "topk_mask": "trainables.cap.binarizers",
    "cap_contrastive": "trainables.cap.contrastive",
    "kd_loss": "trainables.cap.losses",
    "l1_regulariser": "trainables.cap.losses",
    "METHODS": "trainables.cap.masked",
    "MaskedLinear": "trainables.cap.masked",
    "PruningState": "trainables.cap.masked",
    "bake_masks": "trainables.cap.masked",
    "masked_linears": "trainables.cap.masked",
    "wrap_bert": "trainables.cap.masked",
    "REPRESENTATIONS": "trainables.cap.representations",
    "encode_batch": "trainables.cap.representations",
    "forward_with_anchor": "trainables.cap.representations",
    "lambda_at": "trainables.cap.schedule",
    "threshold_at": "trainables.cap.schedule",
    "count_remaining": "trainables.cap.sparsity",
    "head_sparsity": "trainables.cap.sparsity",
    "pruned_heads": "trainables.cap.sparsity",
    "weight_sparsity": "trainables.cap.sparsity",
    "CapConfig": "trainables.cap.config",
    "ConfigError": "trainables.cap.config",
    "check_schedule_fits": "trainables.cap.config",
    "TeacherMismatchError": "trainables.cap.teacher",
    "load_teacher": "trainables.cap.teacher",
    "CachedTeacher": "trainables.cap.teacher_outputs",
    "shared_pretrained_bank": "trainables.cap.teacher_outputs",
    "shared_teacher_outputs": "trainables.cap.teacher_outputs",
    "TrialBanks": "trainables.cap.memory",
    "CapTraining": "trainables.cap.training",
    "run": "trainables.cap.trainable",
    "train_cap": "trainables.cap.trainable",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


__all__ = sorted(_EXPORTS)
