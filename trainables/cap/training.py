"""CAP's training step, as the shared loop's :class:`~trainables.method.Method`.

The step is :meth:`CapTraining.loss`, top to bottom (methods.md 2.4, 2.5, 2.9): the masks at
the cubic schedule's threshold, the student's forward, then

    loss = w_ce * CE + w_kd * KD(T) + sum over PrC/FiC/SnC of contrastive + lambda(t) * L1

with AdamW groups (scores at ``mask_scores_learning_rate``, the rest at ``learning_rate``,
weight decay 0 unless set) under the loop's one warm-up length. Every evaluation runs at the
final threshold; the final one also bakes the masks into a plain BERT that the checkpoint
carries as ``pruned_model/`` (safetensors), and its latency is measured through the sparse
path (:mod:`trainables.sparse`: each linear in dense or CSR storage, whichever ran faster)
against the dense model, so ``speedup`` is what the zeros buy at inference.

Example:
    >>> training = CapTraining(cfg, prep, model, state, teacher, plan, banks)  # doctest: +SKIP
    >>> fine_tune(cfg, model, prep.data, report, method=training, ...)     # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from trainables import report_keys as K
from trainables.cap.config import CapConfig
from trainables.cap.lambda_control import LambdaController, default_every
from trainables.cap.lambda_control import landing_offset, projected_sparsity
from trainables.cap.losses import kd_loss, l1_regulariser
from trainables.cap.masked import PruningState, bake_masks, masked_linears
from trainables.cap.memory import TrialBanks
from trainables.cap.representations import forward_with_anchor
from trainables.cap.schedule import lambda_at, threshold_at
from trainables.cap.sparsity import count_remaining, head_sparsity
from trainables.cap.teacher_outputs import CachedTeacher, teacher_logits
from trainables.evaluation import task_loss
from trainables.finetune import Plan
from trainables.heartbeat import tagged
from trainables.lr_schedule import lr_multiplier
from trainables.latency import latency_batch, paired_latency_ms, same_model_latency
from trainables.method import Method
from trainables.prepare import Prepared
from trainables.sparsity import ParamCounts
from trainables.sparsity import sparsity_columns

STATE_FILE = "cap_state.safetensors"  # the extra-examples generator of a checkpoint


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


log = tagged("cap")  # progress lines


class CapTraining(Method):
    """One CAP trial as the shared loop's :class:`~trainables.method.Method`."""

    def __init__(self, cfg: CapConfig, prep: Prepared, model: nn.Module,
                 state: PruningState, teacher: nn.Module | CachedTeacher | None, plan: Plan,
                 banks: TrialBanks | None) -> None:
        super().__init__(None)  # the loss is CAP's own
        self.name = cfg.method_name
        self.cfg, self.prep, self.model, self.state, self.plan = cfg, prep, model, state, plan
        self.teacher = teacher if cfg.distill_loss_weight > 0 else None
        self.banks = banks
        self.generator = torch.Generator().manual_seed(cfg.seed)  # the extra bank rows
        self.baked: nn.Module | None = None
        self.bake_counts: tuple[ParamCounts, ParamCounts] | None = None
        self.controller: LambdaController | None = None
        self.previous_scores: tuple[int, list[torch.Tensor]] | None = None
        self.unpruned: tuple[int, int] | None = None  # (never-pruned params, total)
        self.steps_done = 0  # the steps trained so far: whether evaluations land
        if cfg.lambda_control:  # off by default: not in the paper
            self.controller = LambdaController(
                target=float(cfg.lambda_control_target), gain=cfg.lambda_control_gain,
                every=cfg.lambda_control_every or default_every(plan.total_steps),
                max_scale=cfg.lambda_control_max_scale)

    def param_groups(self, model: nn.Module, cfg: CapConfig) -> list[dict[str, Any]]:
        return param_groups(model, cfg)

    # -- the training step ---------------------------------------------------------------

    def loss(self, model: nn.Module, batch: dict[str, torch.Tensor], step: int) -> torch.Tensor:
        """CAP's loss at ``step`` (methods.md 2.4-2.9), in the order of the paper's step."""
        cfg = self.cfg
        # 1. masks: the cubic schedule's threshold for this step, read by every MaskedLinear
        #    (in target mode, its final phase lands on the target: lambda_control.py)
        self.state.threshold = self.threshold(step)
        self.steps_done = step + 1
        self.state.offset = self.landing(model) if self.lands(step) else 0.0
        # 2. the student's forward through its masked linears; the anchor is its sentence rep
        logits, anchor = forward_with_anchor(model, batch, cfg.alignrep)
        logits = logits.float()  # losses in float32 under bf16 autocast
        # 3. CE on the labels + KD from the teacher + contrastive against PrC, FiC and SnC
        loss = cfg.ce_loss_weight * task_loss(self.prep.task, logits, batch["labels"])
        if self.teacher is not None:  # a model, or its cached logits (teacher_cache)
            targets = teacher_logits(self.teacher, batch, logits.device)
            loss = loss + cfg.distill_loss_weight * kd_loss(logits, targets.float(),
                                                            cfg.kd_temperature)
        if self.banks is not None:
            loss = loss + self.banks.loss(anchor.float(), batch, self.generator)
        # 4. soft pruning: L1 on the mask scores, weighted by lambda(t) of the same schedule
        #    (times the controller's scale when lambda_control is on)
        if self.controller is not None and self.controller.due(step):
            self.control(model, step)
        penalty = self.penalty(step)
        if penalty:
            loss = loss + penalty * l1_regulariser(model)
        return loss

    def threshold(self, step: int) -> float:
        cfg, plan = self.cfg, self.plan
        return threshold_at(step, plan.total_steps, plan.warmup_steps, cfg.initial_warmup,
                            cfg.final_warmup, cfg.initial_threshold, cfg.final_threshold)

    def penalty(self, step: int) -> float:
        """lambda(t) of soft pruning's L1 term; 0 for top-k or ``final_lambda`` 0."""
        cfg, plan = self.cfg, self.plan
        if cfg.pruning_method != "soft" or cfg.final_lambda <= 0:
            return 0.0
        scale = 1.0 if self.controller is None else self.controller.scale
        return scale * lambda_at(step, plan.total_steps, plan.warmup_steps, cfg.initial_warmup,
                                 cfg.final_warmup, cfg.initial_threshold, cfg.final_threshold,
                                 cfg.final_lambda)

    def lands(self, step: int) -> bool:
        """Whether the mask at ``step`` is moved onto the target (target mode, final phase)."""
        return (self.controller is not None and self.cfg.lambda_control_landing
                and self.sparsity_settled(step))

    def landing(self, model: nn.Module) -> float:
        """The score offset that keeps exactly the target's share of the weights."""
        linears = masked_linears(model)
        fixed, total = self.never_pruned(model, linears)
        keep = round((1.0 - self.controller.target) * total) - fixed
        return landing_offset([m.mask_scores for m in linears], keep, self.cfg.final_threshold)

    def never_pruned(self, model: nn.Module, linears: list[nn.Module]) -> tuple[int, int]:
        """(parameters counted but never pruned: biases, LayerNorms..., all counted ones)."""
        if self.unpruned is None:  # constant: computed once, under any mask
            with torch.no_grad():
                counts = count_remaining(model)
                kept = sum(int(m.mask().sum()) for m in linears)
            self.unpruned = (counts.remaining - kept, counts.total)
        return self.unpruned

    def control(self, model: nn.Module, step: int) -> None:
        """One correction of the lambda controller (:mod:`trainables.cap.lambda_control`):
        the sparsity the scores reach by the end of the run at their current velocity,
        against the target."""
        plan, controller = self.plan, self.controller
        linears = masked_linears(model)
        scores = [m.mask_scores.detach().float().clone() for m in linears]
        previous, self.previous_scores = self.previous_scores, (step, scores)
        if previous is None or previous[0] >= step:  # the first look: velocities need two
            return
        fixed, total = self.never_pruned(model, linears)
        projected = projected_sparsity(
            scores, previous[1], step - previous[0], step, plan.total_steps,
            lambda k: lr_multiplier(k, plan.warmup_steps, plan.total_steps),
            self.cfg.final_threshold, fixed, total)
        scale = controller.update(step, projected)
        if len(controller.history) % 10 == 1:  # the masks of now only for the log line
            with self.evaluating():
                now = 1.0 - (fixed + sum(int(m.mask().sum()) for m in linears)) / total
            log(f"lambda control at step {step}: sparsity {now:.4f} now, "
                f"{projected:.4f} projected (target {controller.target:g}), "
                f"lambda x{scale:.3g}")

    def epoch_start(self, model: nn.Module, epoch: int) -> None:
        if self.banks is None or epoch == 0:  # PrC and FiC were encoded before training
            return
        # The original encodes with the threshold of the step before: its loop variable still
        # holds the last step's value when the epoch begins (methods.md 2.6). The next step
        # sets its own threshold before any training.
        self.state.threshold = self.threshold(epoch * self.plan.steps_per_epoch - 1)
        self.banks.snapshot(model)
        log(f"epoch {epoch}: snapshot encoded in {self.banks.encode_seconds[-1]:.1f}s; "
            f"{self.banks.describe()}")

    def sparsity_settled(self, step: int) -> bool:
        """True once the threshold is final (or training is over): sparsity stops moving."""
        plan = self.plan
        return (step >= plan.total_steps
                or step > plan.total_steps - self.cfg.final_warmup * plan.warmup_steps)

    # -- evaluation ----------------------------------------------------------------------

    @contextlib.contextmanager
    def evaluating(self) -> Iterator[None]:
        """Evaluate at the final threshold (methods.md 2.4: always the final), then resume."""
        scheduled, self.state.threshold = self.state.threshold, self.cfg.final_threshold
        offset = self.state.offset
        if self.steps_done and self.lands(self.steps_done):
            self.state.offset = self.landing(self.model)
        try:
            yield
        finally:
            self.state.threshold, self.state.offset = scheduled, offset

    def sparsity(self, model: nn.Module) -> dict[str, float | int]:
        return sparsity_columns(count_remaining(model), head_sparsity(model))

    def final_metrics(self, model: nn.Module) -> dict[str, Any]:
        """Bake the masks into a copy (saved with the final checkpoint); check the counts."""
        self.baked = bake_masks(copy.deepcopy(model)).cpu()
        self.bake_counts = (count_remaining(model), count_remaining(self.baked))
        if self.bake_counts[0] != self.bake_counts[1]:
            log(f"warning: remaining weights differ after baking: {self.bake_counts}")
        bank_bytes = 0 if self.banks is None else self.banks.nbytes
        if self.banks is not None:
            log(f"final: {self.banks.describe()}")
        extra: dict[str, Any] = {K.BANK_BYTES: bank_bytes}
        if self.controller is not None:  # in Ray's result (not a Parquet column)
            extra[K.LAMBDA_SCALE] = self.controller.scale
            log(f"lambda control: final scale x{self.controller.scale:.3g} "
                f"(final_lambda {self.cfg.final_lambda:g} -> "
                f"{self.cfg.final_lambda * self.controller.scale:.4g}) after "
                f"{len(self.controller.history)} corrections")
        return extra

    def latency(self, model: nn.Module, tensors: Mapping[str, torch.Tensor],
                device: torch.device, bf16: bool) -> dict[str, float]:
        """The baked model in its fastest storage against its dense twin, alternating.

        The storage is chosen per layer and then tuned on the whole model's latency
        (:mod:`trainables.sparse.whole_model`), which keeps it dense unless it is faster.
        Runs after :meth:`final_metrics` (which bakes); timing verdicts are cached under the
        storage root's artifacts, so later trials of a sweep mostly skip the per-layer timing.
        """
        from trainables.sparse import TimingCache, default_cache_dir, sparsify

        baked = self.baked if self.baked is not None else bake_masks(copy.deepcopy(model))
        baked = copy.deepcopy(baked).to(device).eval()
        batch = latency_batch(tensors, device)
        cache = TimingCache(default_cache_dir(self.cfg.storage_root), device)
        # per layer, then regrouped and guarded on the whole model (never slower than dense)
        sparse, plan = sparsify(baked, batch["input_ids"].numel(), cache=cache, bf16=bf16,
                                tune_inputs=batch)
        result = paired_latency_ms(sparse, tensors, device=device, bf16=bf16)
        if not plan.sparse_layers():  # the dense model timed against itself: speed-up is 1
            result = same_model_latency(result)
        log(f"latency: {plan.summary()}; {result['latency_ms']:.1f} ms vs dense "
            f"{result['dense_latency_ms']:.1f} ms ({result['speedup']:.2f}x)")
        return result

    # -- checkpoints ---------------------------------------------------------------------

    def save(self, directory: Path) -> None:
        state = {"generator": self.generator.get_state()}
        if self.controller is not None:  # a resumed trial continues from the same lambda
            state["lambda_log_scale"] = torch.tensor([self.controller.log_scale],
                                                     dtype=torch.float64)
            if self.previous_scores is not None:  # and the same next velocity (exact resume)
                step, scores = self.previous_scores
                state["lambda_previous_step"] = torch.tensor([step])
                state.update({f"lambda_previous_{i}": t for i, t in enumerate(scores)})
        save_file(state, str(directory / STATE_FILE))
        if self.banks is not None:
            self.banks.save_snapshots(directory)

    def stock_model(self, model: nn.Module) -> nn.Module:
        """The masks baked into a plain BERT (by :meth:`final_metrics`): the export folder."""
        return self.baked if self.baked is not None else bake_masks(copy.deepcopy(model)).cpu()

    def load(self, directory: Path) -> None:
        path = directory / STATE_FILE
        if path.is_file():
            state = load_file(str(path))
            self.generator.set_state(state["generator"])
            if self.controller is not None and "lambda_log_scale" in state:
                self.controller.log_scale = float(state["lambda_log_scale"][0])
                if "lambda_previous_step" in state:
                    count = sum(1 for key in state if key.startswith("lambda_previous_")) - 1
                    self.previous_scores = (int(state["lambda_previous_step"][0]),
                                            [state[f"lambda_previous_{i}"]
                                             for i in range(count)])
        if self.banks is not None:
            self.banks.load_snapshots(directory)
