"""The ``smp`` trainable: mask heads with the meta-trained pruner, remove them, fine-tune.

One trial: (1) the task's head scores from the shared ``smp_scores`` artifact (which needs the
shared ``smp_pruner``, meta-trained once per storage root, or a released checkpoint); (2) the
keep-mask at the trial's ratio; (3) a fresh classifier with those heads physically removed;
(4) the shared fine-tune loop, reporting score, ``head_sparsity``, ``weight_sparsity`` (the CAP
counting rule) and parameter counts every evaluation, and the pruned and dense latencies at
the end (measured in alternation, :mod:`~trainables.latency`). The mask travels in every
checkpoint, so a resumed trial rebuilds the same architecture without scoring again.

Example:
    >>> from trainables.reporting import RecordingReporter
    >>> rec = RecordingReporter()
    >>> run({"task": "sst2", "model": "tiny", "synthetic_data": True, "max_steps": 2,
    ...      "meta_updates": 1, "meta_batch_size": 4,
    ...      "mask_exact_count": True}, rec)               # doctest: +SKIP
    >>> rec.metrics[-1]["head_sparsity"]                    # doctest: +SKIP
    0.5
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainables.artifacts import store_or_temporary
from trainables.config import from_mapping
from trainables.finetune import fine_tune
from trainables.heartbeat import tagged
from trainables.method import Method
from trainables.models import head_layout
from trainables.models import load_classifier
from trainables.prepare import Prepared
from trainables.prepare import prepare
from trainables.reporting import Reporter
from trainables.smp.artifacts import check_ratio_fits
from trainables.smp.artifacts import head_scores
from trainables.smp.artifacts import keep_mask
from trainables.smp.config import SmpConfig
from trainables.smp.heads import head_sparsity
from trainables.smp.heads import prune_heads
from trainables.smp.heads import restore_heads
from trainables.smp.masks import heads_kept
from trainables.smp.masks import load_mask_json
from trainables.smp.masks import save_mask_json
from trainables.sparsity import count_params
from trainables.sparsity import sparsity_columns
from trainables.tasks import TaskSpec

METHOD = "smp"
log = tagged(METHOD)  # progress lines
MASK_FILE = "head_mask.json"  # in every trial checkpoint: the architecture to rebuild


def run(config: Mapping[str, Any], report: Reporter, *, resume_from: Path | None = None) -> None:
    """Run one SMP trial; ``resume_from`` is a checkpoint folder this trainable reported."""
    cfg = from_mapping(SmpConfig, config)
    train_smp(cfg, report, resume_from=resume_from)


def train_smp(cfg: SmpConfig, report: Reporter, *, resume_from: Path | None = None,
              keep: torch.Tensor | None = None) -> nn.Module:
    """Mask, prune and fine-tune; returns the trained, pruned model.

    ``keep`` replaces the pruner's mask (the fidelity benchmark's random and dense
    baselines go through the very same loop); a resumed trial reads its checkpoint's mask.
    """
    prep = prepare(cfg)
    model = load_classifier(cfg.model, prep.task.num_labels, seed=cfg.seed)
    layers, heads, _ = head_layout(model)
    check_ratio_fits(cfg, layers, heads)
    if resume_from is not None:
        keep = load_mask_json(Path(resume_from) / MASK_FILE)
    elif keep is None:
        keep = trial_mask(cfg, prep)
    prune_heads(model, keep)
    log(f"{prep.task.name}: kept heads per layer {heads_kept(keep)} at prune_ratio "
        f"{cfg.prune_ratio} ({cfg.allocation})")
    return fine_tune(cfg, model, prep.data, report, device=prep.device,
                     method=SmpMethod(prep.task, model, keep), resume_from=resume_from,
                     identity=prep.identity(cfg), tokenizer=prep.tokenizer)


def trial_mask(cfg: SmpConfig, prep: Prepared) -> torch.Tensor:
    """The keep-mask ``[L, H]`` from the task's shared head scores.

    Building the artifacts draws from the global random state (CNN initialisation), reading
    them does not; forking it keeps fine-tuning identical whichever this trial did.
    """
    with torch.random.fork_rng(), store_or_temporary(prep.store, "smp-artifacts-") as store:
        scores = head_scores(cfg, prep.tokenizer, store, prep.device, prep.data)
    return keep_mask(cfg, scores)


class SmpMethod(Method):
    """Plain fine-tuning of the pruned model: fixed sparsity, the mask in checkpoints.

    Latency: the loop's default, the pruned model against its dense twin, alternating.
    """

    name = METHOD

    def __init__(self, task: TaskSpec, model: nn.Module, keep: torch.Tensor) -> None:
        super().__init__(task)
        self.keep = keep
        # constant: the heads are gone for good
        self.columns = sparsity_columns(count_params(model), head_sparsity(keep))

    def sparsity(self, model: nn.Module) -> dict[str, float | int]:
        return dict(self.columns)

    def stock_model(self, model: nn.Module) -> nn.Module:
        """The dense architecture with the removed heads back as zeros (same outputs)."""
        return restore_heads(model, self.keep)

    def save(self, directory: Path) -> None:
        save_mask_json(self.keep, directory / MASK_FILE)
