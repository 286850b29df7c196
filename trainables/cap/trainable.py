"""The ``cap`` trainable: movement pruning with distillation and contrastive memory banks.

One trial (methods.md 5.2): (1) the task data and the teacher (a shared artifact fine-tuned
once by the dense trainable, or ``teacher_path``), checked against the task; (2) the student
with its encoder linears masked; (3) the FiC and PrC banks; (4) the shared fine-tune loop with
CAP's step (:class:`~trainables.cap.training.CapTraining`), reporting score, ``weight_sparsity`` (the 2.10 counting rule) and
``head_sparsity`` at the final threshold every evaluation; the final checkpoint also holds
the pruned model baked into a stock BERT (``pruned_model/``).

``pruning_method`` topk gives CAP-m, soft CAP-soft; ``use_contrastive`` False gives plain
movement / soft movement pruning (method ``movement`` / ``soft-movement``), with a teacher
only if ``distill_loss_weight`` > 0. A resumed trial restores scores, optimizer, schedule
step and the snapshot bank from its checkpoint and re-encodes PrC and FiC (or maps
them again: with ``teacher_cache`` and ``prc_cache`` they are shared artifacts).

Example:
    >>> from trainables.reporting import RecordingReporter
    >>> rec = RecordingReporter()
    >>> run({"task": "sst2", "model": "tiny", "synthetic_data": True, "max_steps": 4,
    ...      "warmup_steps": 0, "pruning_method": "soft"}, rec)              # doctest: +SKIP
    >>> rec.metrics[-1]["method"]                                            # doctest: +SKIP
    'cap-soft'
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import nn

from trainables.cap.config import CapConfig
from trainables.cap.config import check_schedule_fits
from trainables.cap.masked import PruningState
from trainables.cap.masked import wrap_bert
from trainables.cap.memory import TrialBanks
from trainables.cap.teacher import load_teacher
from trainables.cap.teacher_outputs import CachedTeacher
from trainables.cap.teacher_outputs import shared_pretrained_bank
from trainables.cap.teacher_outputs import shared_teacher_outputs
from trainables.cap.training import CapTraining
from trainables.config import from_mapping
from trainables.finetune import fine_tune
from trainables.finetune import plan_steps
from trainables.heartbeat import tagged
from trainables.models import load_classifier
from trainables.prepare import Prepared
from trainables.prepare import prepare
from trainables.reporting import Reporter
from trainables.runtime import seed_everything

log = tagged("cap")  # progress lines


def run(config: Mapping[str, Any], report: Reporter, *, resume_from: Path | None = None) -> None:
    """Run one CAP trial; ``resume_from`` is a checkpoint folder this trainable reported."""
    cfg = from_mapping(CapConfig, config)
    train_cap(cfg, report, resume_from=resume_from)


def train_cap(cfg: CapConfig, report: Reporter, *, resume_from: Path | None = None,
              ) -> nn.Module:
    """Prune while fine-tuning; returns the trained model, still masked (not baked)."""
    training = setup(cfg, resume_from is not None)
    return fine_tune(cfg, training.model, training.prep.data, report,
                     device=training.prep.device, method=training,
                     resume_from=resume_from, identity=training.prep.identity(cfg),
                     tokenizer=training.prep.tokenizer)


def setup(cfg: CapConfig, resuming: bool = False) -> CapTraining:
    """Everything before the first step: data, teacher, masked student, PrC and FiC."""
    prep = prepare(cfg)
    plan = plan_steps(cfg, len(prep.data.train["input_ids"]))
    check_schedule_fits(cfg, plan.total_steps, plan.warmup_steps)  # before the costly teacher
    state = PruningState(cfg.pruning_method, cfg.initial_threshold)
    model = load_classifier(cfg.model, prep.task.num_labels, seed=cfg.seed)
    model = wrap_bert(model, state, cfg.mask_init).to(prep.device)
    hidden = model.config.hidden_size
    teacher = None
    if cfg.needs_teacher:  # its outputs once per sweep (teacher_cache), or the model
        teacher = (shared_teacher_outputs(cfg, prep, hidden) if cfg.teacher_cache
                   else load_teacher(cfg, prep, hidden))
    # Building the teacher (in one trial of a sweep) draws random numbers: re-seed, so a
    # trial trains the same whether it built the teacher or found it.
    seed_everything(cfg.seed)
    banks = None
    if cfg.use_contrastive:
        banks = TrialBanks(cfg, prep.data, hidden, plan.epochs, prep.device)
        encode_initial_banks(cfg, prep, banks, model, teacher, state.threshold, resuming)
    log(f"{cfg.method_name} on {prep.task.name}: {plan.total_steps} steps "
        f"({plan.steps_per_epoch} per epoch), warm-up {plan.warmup_steps}, threshold {cfg.initial_threshold:g} -> {cfg.final_threshold:g}"
        + (f", final_lambda {cfg.final_lambda:g}" if cfg.pruning_method == "soft" else ""))
    return CapTraining(cfg, prep, model, state, teacher, plan, banks)


def encode_initial_banks(cfg: CapConfig, prep: Prepared, banks: TrialBanks,
                         student: nn.Module, teacher: nn.Module | CachedTeacher,
                         threshold: float, resuming: bool) -> None:
    """PrC and FiC: memory maps of the shared artifacts, or encoded here (the caches off)."""
    pretrained = finetuned = None
    shared_s, built = 0.0, []
    if isinstance(teacher, CachedTeacher):
        finetuned, shared_s = teacher.bank, teacher.seconds
        built += ["FiC"] if teacher.built else []
    if cfg.prc_cache:
        # the untrained student: PrC is reproducible, and the same for every trial
        pretrained, seconds, prc_built = shared_pretrained_bank(cfg, prep, student, threshold)
        shared_s += seconds
        built += ["PrC"] if prc_built else []
    banks.encode_initial(student, None if finetuned is not None else teacher,
                         pretrained=pretrained, finetuned=finetuned)
    banks.shared_seconds = shared_s
    encoded = sum(banks.encode_seconds)
    what = "re-encoded for the resumed trial" if resuming else "encoded"
    shared = [n for n, b in (("PrC", pretrained), ("FiC", finetuned)) if b is not None]
    local = [n for n in ("PrC", "FiC") if n not in shared]
    parts = []
    if local:
        parts.append(f"{' and '.join(local)} {what} in {encoded:.1f}s")
    if shared:
        how = f"built ({', '.join(built)}) and mapped" if built else "mapped, no encoding"
        parts.append(f"{' and '.join(shared)} shared artifacts {how} in {shared_s:.1f}s")
    log(f"{'; '.join(parts)}; {banks.describe()}")
