"""SMP, Single-Shot Meta-Pruning of attention heads (thunlp/SMP), for transformers 5.

The core library; the specification is ``shared/docs/methods.md`` section 1 (with the
transformers-5 pitfalls of section 4 and the decisions of section 6).

Modules, in pipeline order:

- :mod:`~trainables.smp.pruner`: the CNN and the released-checkpoint loader (1.2).
- :mod:`~trainables.smp.attention`: attention maps and per-head scores (1.3).
- :mod:`~trainables.smp.sampler`: the Gumbel head-mask sampler (1.4 step 3).
- :mod:`~trainables.smp.heads`: hook masking, physical pruning, head sparsity (5.1).
- :mod:`~trainables.smp.relational`: the relational KL loss (1.4 step 5).
- :mod:`~trainables.smp.meta_training`: the meta-training loop with checkpoints (1.4).
- :mod:`~trainables.smp.masks`: the ``cal`` step, mask rules and mask files (1.5, 1.6).

Example:
    >>> plm = load_classifier("minilm", 2, attn_implementation="eager")   # doctest: +SKIP
    >>> cnn = meta_train(plm, {"mrpc": (mrpc, True)}, "runs/pruner").cnn
    >>> keep = head_mask_per_layer(compute_head_scores(plm, cnn, mrpc, pair=True), 0.5)
    >>> prune_heads(plm, keep)

The trial side: :mod:`~trainables.smp.config` (``SmpConfig``, torch-free),
:mod:`~trainables.smp.meta_config` (``MetaTrainConfig``, the pruner's meta-training settings),
:mod:`~trainables.smp.released` (the released pruner checkpoints, by name),
:mod:`~trainables.smp.artifacts` (the ``smp_pruner`` / ``smp_scores`` shared artifacts) and
:mod:`~trainables.smp.trainable` (``run``, the ``smp`` trainable; its final checkpoint's stock
folder has the removed heads back as zeros, :func:`~trainables.smp.heads.restore_heads`).
Pruned vs dense latency is every method's (:mod:`trainables.latency`).

Names are imported lazily (PEP 562), so ``trainables.smp.config`` can be read by the
orchestrator without loading torch.
"""

from __future__ import annotations

from trainables.lazy import lazy_exports

# public name -> defining module; imported on first use
_EXPORTS: dict[str, str] = {
    "latest_checkpoint": "trainables.smp._checkpoints",
    "AttentionMapsUnavailableError": "trainables.smp.attention",
    "attention_maps": "trainables.smp.attention",
    "encode_with_attention": "trainables.smp.attention",
    "eval_mode": "trainables.smp.attention",
    "is_pair_task": "trainables.smp.attention",
    "pad_to": "trainables.smp.attention",
    "score_heads": "trainables.smp.attention",
    "HeadMasker": "trainables.smp.heads",
    "as_keep_mask": "trainables.smp.heads",
    "head_sparsity": "trainables.smp.heads",
    "prune_heads": "trainables.smp.heads",
    "MaskFileError": "trainables.smp.masks",
    "PruneRatioError": "trainables.smp.masks",
    "compute_head_scores": "trainables.smp.masks",
    "head_mask_global": "trainables.smp.masks",
    "head_mask_per_layer": "trainables.smp.masks",
    "heads_kept": "trainables.smp.masks",
    "import_original_mask": "trainables.smp.masks",
    "load_mask_json": "trainables.smp.masks",
    "save_mask_json": "trainables.smp.masks",
    "MetaTrainConfig": "trainables.smp.meta_config",
    "MetaTrainResult": "trainables.smp.meta_training",
    "TaskStream": "trainables.smp.meta_training",
    "meta_train": "trainables.smp.meta_training",
    "task_pool": "trainables.smp.meta_training",
    "DEFAULT_NDF": "trainables.smp.pruner",
    "MAP_SIZE": "trainables.smp.pruner",
    "HeadPrunerCNN": "trainables.smp.pruner",
    "PrunerCheckpointError": "trainables.smp.pruner",
    "load_pruner_checkpoint": "trainables.smp.pruner",
    "cos_dist": "trainables.smp.relational",
    "feature_mask": "trainables.smp.relational",
    "relational_kl": "trainables.smp.relational",
    "relational_loss": "trainables.smp.relational",
    "sample_head_mask": "trainables.smp.sampler",
    "topk_head_mask": "trainables.smp.sampler",
    "SmpConfig": "trainables.smp.config",
    "run": "trainables.smp.trainable",
    "train_smp": "trainables.smp.trainable",
}


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


__all__ = [
    # pruner
    "DEFAULT_NDF",
    "MAP_SIZE",
    "HeadPrunerCNN",
    "PrunerCheckpointError",
    "load_pruner_checkpoint",
    # attention
    "AttentionMapsUnavailableError",
    "attention_maps",
    "encode_with_attention",
    "eval_mode",
    "is_pair_task",
    "pad_to",
    "score_heads",
    # sampler
    "sample_head_mask",
    "topk_head_mask",
    # heads
    "HeadMasker",
    "as_keep_mask",
    "head_sparsity",
    "prune_heads",
    # relational
    "cos_dist",
    "feature_mask",
    "relational_kl",
    "relational_loss",
    # meta_train
    "MetaTrainConfig",
    "MetaTrainResult",
    "TaskStream",
    "latest_checkpoint",
    "meta_train",
    "task_pool",
    # masks
    "MaskFileError",
    "PruneRatioError",
    "compute_head_scores",
    "head_mask_global",
    "head_mask_per_layer",
    "heads_kept",
    "import_original_mask",
    "load_mask_json",
    "save_mask_json",
    # trainable
    "SmpConfig",
    "run",
    "train_smp",
]
