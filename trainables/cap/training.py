"""What CAP changes in the shared fine-tune loop, as :class:`~trainables.finetune.Hooks`.

Per step (methods.md 2.4, 2.5, 2.9): set the threshold from the cubic schedule, then

    loss = w_ce * CE + w_kd * KD(T) + sum over PrC/FiC/SnC of contrastive + lambda(t) * L1

with AdamW groups (scores at ``mask_scores_learning_rate``, the rest at ``learning_rate``,
weight decay 0 unless set) under the loop's one warm-up length. Every evaluation runs at the
final threshold; the final one also bakes the masks into a plain BERT that the checkpoint
carries as ``pruned_model/`` (safetensors), and its latency is measured through the sparse
path (:mod:`trainables.sparse`: each linear in dense or CSR storage, whichever ran faster)
against the dense model, so ``speedup`` is what the zeros buy at inference.

Example:
    >>> training = CapTraining(cfg, prep, model, state, teacher, plan, banks)  # doctest: +SKIP
    >>> fine_tune(cfg, model, prep.data, report, hooks=training.hooks(), ...)  # doctest: +SKIP
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Mapping
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from trainables.cap.config import CapConfig
from trainables.cap.losses import kd_loss, l1_regulariser, task_loss
from trainables.cap.masked import PruningState, bake_masks
from trainables.cap.memory import TrialBanks
from trainables.cap.representations import forward_with_anchor
from trainables.cap.schedule import lambda_at, threshold_at
from trainables.cap.sparsity import count_remaining, head_sparsity
from trainables.cap.teacher import log
from trainables.cap.teacher_outputs import CachedTeacher, teacher_logits
from trainables.finetune import Hooks
from trainables.latency import latency_batch, paired_latency_ms
from trainables.prepare import Prepared

STATE_FILE = "cap_state.safetensors"  # the extra-examples generator of a checkpoint
PRUNED_DIR = "pruned_model"  # the final checkpoint's baked, stock BERT


@dataclass(frozen=True)
class Plan:
    """The run's length, as the shared loop computes it (``plan_steps``)."""

    steps_per_epoch: int
    total_steps: int
    warmup_steps: int

    @property
    def epochs(self) -> int:
        return -(-self.total_steps // self.steps_per_epoch)


def param_groups(model: nn.Module, cfg: CapConfig) -> list[dict[str, Any]]:
    """Scores at their own rate; weights, then biases/LayerNorms (methods.md 2.9)."""
    scores, decay, no_decay = [], [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:  # the frozen embeddings
            continue
        if name.endswith("mask_scores"):
            scores.append(param)
        elif name.endswith("bias") or "LayerNorm" in name:
            no_decay.append(param)
        else:
            decay.append(param)
    return [
        {"params": scores, "lr": cfg.mask_scores_learning_rate, "weight_decay": 0.0},
        {"params": decay, "lr": cfg.learning_rate, "weight_decay": cfg.weight_decay},
        {"params": no_decay, "lr": cfg.learning_rate, "weight_decay": 0.0},
    ]


class CapTraining:
    """The state of one CAP trial between the shared loop's hooks."""

    def __init__(self, cfg: CapConfig, prep: Prepared, model: nn.Module,
                 state: PruningState, teacher: nn.Module | CachedTeacher | None, plan: Plan,
                 banks: TrialBanks | None) -> None:
        self.cfg, self.prep, self.model, self.state, self.plan = cfg, prep, model, state, plan
        self.teacher = teacher if cfg.distill_loss_weight > 0 else None
        self.banks = banks
        self.generator = torch.Generator().manual_seed(cfg.seed)  # the extra bank rows
        self.scheduled = state.threshold
        self.penalty = 0.0
        self.baked: nn.Module | None = None
        self.bake_counts: tuple[tuple[int, int], tuple[int, int]] | None = None

    # -- schedule ------------------------------------------------------------------------

    def threshold(self, step: int) -> float:
        cfg, plan = self.cfg, self.plan
        return threshold_at(step, plan.total_steps, plan.warmup_steps, cfg.initial_warmup,
                            cfg.final_warmup, cfg.initial_threshold, cfg.final_threshold)

    def on_step_start(self, step: int) -> None:
        cfg, plan = self.cfg, self.plan
        self.scheduled = self.state.threshold = self.threshold(step)
        if cfg.pruning_method == "soft" and cfg.final_lambda > 0:
            self.penalty = lambda_at(step, plan.total_steps, plan.warmup_steps,
                                     cfg.initial_warmup, cfg.final_warmup,
                                     cfg.initial_threshold, cfg.final_threshold,
                                     cfg.final_lambda)

    def settled(self, step: int) -> bool:
        """True once the threshold is final (or training is over): sparsity stops moving."""
        plan = self.plan
        return (step >= plan.total_steps
                or step > plan.total_steps - self.cfg.final_warmup * plan.warmup_steps)

    def on_epoch_start(self, epoch: int) -> None:
        if self.banks is None or epoch == 0:  # PrC and FiC were encoded before training
            return
        # The original encodes with the threshold of the step before: its loop variable still
        # holds the last step's value when the epoch begins (methods.md 2.6). The next
        # on_step_start sets the new step's threshold (and lambda) before any training.
        self.state.threshold = self.threshold(epoch * self.plan.steps_per_epoch - 1)
        self.banks.snapshot(self.model)
        log(f"epoch {epoch}: snapshot encoded in {self.banks.encode_seconds[-1]:.1f}s; "
            f"{self.banks.describe()}")

    # -- loss ----------------------------------------------------------------------------

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor], step: int) -> torch.Tensor:
        cfg = self.cfg
        logits, anchor = forward_with_anchor(model, batch, cfg.alignrep)
        logits = logits.float()  # losses in float32 under bf16 autocast
        total = cfg.ce_loss_weight * task_loss(logits, batch["labels"])
        if self.teacher is not None:  # a model, or its cached logits (teacher_cache)
            targets = teacher_logits(self.teacher, batch, logits.device)
            total = total + cfg.distill_loss_weight * kd_loss(
                logits, targets.float(), cfg.kd_temperature)
        if self.banks is not None:
            total = total + self.banks.loss(anchor.float(), batch, self.generator)
        if self.penalty:
            total = total + self.penalty * l1_regulariser(model)
        return total

    # -- evaluation ----------------------------------------------------------------------

    def before_eval(self) -> None:
        self.state.threshold = self.cfg.final_threshold  # methods.md 2.4: always the final

    def after_eval(self) -> None:
        self.state.threshold = self.scheduled

    def sparsity(self, model: nn.Module) -> dict[str, Any]:
        remaining, total = count_remaining(model)
        return {"weight_sparsity": 1.0 - remaining / total, "head_sparsity": head_sparsity(model),
                "params_total": total, "params_remaining": remaining}

    def final_metrics(self, model: nn.Module) -> dict[str, Any]:
        """Bake the masks into a copy (saved with the final checkpoint); check the counts."""
        self.baked = bake_masks(copy.deepcopy(model)).cpu()
        self.bake_counts = (count_remaining(model), count_remaining(self.baked))
        if self.bake_counts[0] != self.bake_counts[1]:
            log(f"warning: remaining weights differ after baking: {self.bake_counts}")
        bank_bytes = 0 if self.banks is None else self.banks.nbytes
        if self.banks is not None:
            log(f"final: {self.banks.describe()}")
        return {"bank_bytes": bank_bytes}

    def latency(self, model: nn.Module, tensors: Mapping[str, torch.Tensor],
                device: torch.device, bf16: bool) -> dict[str, float]:
        """The baked model in its fastest storage against its dense twin, alternating.

        Runs after :meth:`final_metrics` (which bakes); timing verdicts are cached under the
        storage root's artifacts, so later trials of a sweep mostly skip the per-layer timing.
        """
        from trainables.sparse import TimingCache, default_cache_dir, sparsify

        baked = self.baked if self.baked is not None else bake_masks(copy.deepcopy(model))
        baked = copy.deepcopy(baked).to(device).eval()
        tokens = latency_batch(tensors, device)["input_ids"].numel()
        cache = TimingCache(default_cache_dir(self.cfg.storage_root), device)
        sparse, plan = sparsify(baked, tokens, cache=cache, bf16=bf16)
        result = paired_latency_ms(sparse, tensors, device=device, bf16=bf16)
        log(f"latency: {plan.summary()}; {result['latency_ms']:.1f} ms vs dense "
            f"{result['dense_latency_ms']:.1f} ms ({result['speedup']:.2f}x)")
        return result

    # -- checkpoints ---------------------------------------------------------------------

    def save_extra(self, directory: Path) -> None:
        save_file({"generator": self.generator.get_state()}, str(directory / STATE_FILE))
        if self.banks is not None:
            self.banks.save_snapshots(directory)
        if self.baked is not None:
            self.baked.save_pretrained(directory / PRUNED_DIR)
            self.prep.tokenizer.save_pretrained(directory / PRUNED_DIR)

    def load_extra(self, directory: Path) -> None:
        path = directory / STATE_FILE
        if path.is_file():
            self.generator.set_state(load_file(str(path))["generator"])
        if self.banks is not None:
            self.banks.load_snapshots(directory)

    def hooks(self) -> Hooks:
        return Hooks(
            method=self.cfg.method_name, loss=self.loss, param_groups=param_groups,
            on_step_start=self.on_step_start, on_epoch_start=self.on_epoch_start,
            before_eval=self.before_eval, after_eval=self.after_eval,
            sparsity=self.sparsity, sparsity_settled=self.settled,
            final_metrics=self.final_metrics, latency=self.latency,
            save_extra=self.save_extra, load_extra=self.load_extra)
