"""``CapConfig``: the settings of one ``cap`` trial (methods.md 2.4-2.11).

Torch-free, like :mod:`trainables.config`, so the orchestrator validates ``--set`` values
before anything heavy loads. Defaults are the shipped GLUE scripts' (methods.md 2.11): batch
32, lr 3e-5 (scores 1e-2), 10 epochs, warm-up 11000 steps with initial/final warm-up 2/3,
CE 0.1 + KD 0.9 at T = 2, contrastive tau 0.1 with 4096 extra examples, w_u 0.1, w_s 10,
``cls`` representations. The thresholds and ``final_lambda`` default per pruning method:
top-k keeps 100% -> 3%; soft goes from sigmoid threshold 0 to 0.1 with ``final_lambda`` 550.

Example:
    >>> from trainables.config import from_mapping
    >>> cfg = from_mapping(CapConfig, {"task": "qqp", "pruning_method": "soft"})
    >>> cfg.initial_threshold, cfg.final_threshold, cfg.final_lambda, cfg.method_name
    (0.0, 0.1, 550.0, 'cap-soft')
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from trainables.config import ConfigError
from trainables.config import TrainConfig

PRUNING_METHODS = ("topk", "soft")
ALIGNREPS = ("cls", "mean-pooling")
BANK_DTYPES = ("float32", "float16")
# (initial_threshold, final_threshold, final_lambda) of the shipped scripts, per method.
SCRIPT_DEFAULTS: dict[str, tuple[float, float, float]] = {
    "topk": (1.0, 0.03, 0.0),
    "soft": (0.0, 0.1, 550.0),
}
# The method column of the result schema: CAP itself, or the plain baselines it extends.
METHOD_NAMES = {("topk", True): "cap-m", ("soft", True): "cap-soft",
                ("topk", False): "movement", ("soft", False): "soft-movement"}


@dataclass(frozen=True)
class CapConfig(TrainConfig):
    """One CAP trial: movement pruning with distillation and contrastive memory banks.

    Pruning:
        pruning_method: ``topk`` (CAP-m: thresholds are keep ratios in (0, 1]) or ``soft``
            (CAP-soft: sigmoid thresholds in [0, 1), sparsity set by ``final_lambda``).
        initial_threshold / final_threshold / final_lambda: None = the script's value for
            the method (see :data:`SCRIPT_DEFAULTS`); ``final_lambda`` is soft only.
        initial_warmup / final_warmup: flat phases at the start and end of the threshold
            schedule, in units of the warm-up length (``warmup_steps`` or ``warmup_ratio``).
    Objective (methods.md 2.5): ``ce_loss_weight * CE + distill_loss_weight * KD(T) +
        contrastive terms + lambda(t) * L1``. ``use_contrastive`` False drops the banks
        and the contrastive terms: plain (soft) movement pruning, the baselines.
    Banks: ``bank_dtype`` float16 halves their host memory; ``snapshot_eval_mode`` encodes
        the snapshot bank without dropout (the original keeps dropout on, pitfall 14).
    Teacher: ``teacher_path`` a fine-tuned model folder; None fine-tunes one with the dense
        trainable as a shared artifact, from the trial's model, task, data and length and the
        ``teacher_*`` settings. Needed for KD and for the FiC bank (pitfall 18).
    Sharing (:mod:`trainables.cap.teacher_outputs`): ``teacher_cache`` computes the
        teacher's logits and FiC rows once per sweep (a shared artifact the trials
        memory-map; KD reads the batch's rows instead of running the teacher);
        ``prc_cache`` does the same for the PrC bank. False computes them per trial.
    """

    # the scripts' optimisation settings (TrainConfig keeps dense's defaults)
    learning_rate: float = 3e-5
    num_train_epochs: float = 10.0
    warmup_steps: int = 11000
    # pruning
    pruning_method: str = "topk"
    initial_threshold: float | None = None
    final_threshold: float | None = None
    initial_warmup: float = 2.0
    final_warmup: float = 3.0
    final_lambda: float | None = None
    mask_scores_learning_rate: float = 1e-2
    mask_init: float = 0.0
    # objective
    ce_loss_weight: float = 0.1
    distill_loss_weight: float = 0.9
    kd_temperature: float = 2.0
    use_contrastive: bool = True
    contrastive_temperature: float = 0.1
    extra_examples: int = 4096
    alignrep: str = "cls"
    cl_unsupervised_loss_weight: float = 0.1
    cl_supervised_loss_weight: float = 10.0
    bank_dtype: str = "float32"
    snapshot_eval_mode: bool = False
    # in-run lambda controller (trainables.cap.lambda_control; not in the paper, off by
    # default): steer lambda(t) so the trial ends at lambda_control_target weight_sparsity.
    # launch --targets fills the target from the trial's target.
    lambda_control: bool = False
    lambda_control_target: float | None = None
    lambda_control_gain: float = 3.0
    lambda_control_every: int = 0  # steps between corrections; 0: total_steps // 50
    lambda_control_max_scale: float = 30.0
    # with the controller, the last flat phase and its evaluations keep exactly the target's
    # share of weights (lambda_control.landing_offset; not in the paper)
    lambda_control_landing: bool = True
    # teacher
    teacher_path: str | None = None
    teacher_learning_rate: float = 2e-5
    teacher_num_train_epochs: float = 3.0
    teacher_max_steps: int = 0
    teacher_train_batch_size: int = 32
    teacher_seed: int = 42
    # A teacher scoring below the majority-class score on the eval split is refused (it
    # teaches worse than always answering the most frequent class); true accepts it.
    allow_weak_teacher: bool = False
    # sharing what every trial computes alike
    teacher_cache: bool = True
    prc_cache: bool = True

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(self.pruning_method in PRUNING_METHODS, "pruning_method", self.pruning_method,
               f"one of {', '.join(PRUNING_METHODS)}")
        initial, final, lam = SCRIPT_DEFAULTS[self.pruning_method]
        for key, default in (("initial_threshold", initial), ("final_threshold", final),
                             ("final_lambda", lam)):
            if getattr(self, key) is None:  # frozen: fill the method's default once
                object.__setattr__(self, key, float(default))
        self._check_thresholds()
        self._check_lambda_control()
        self._check_objective()
        self._check_teacher()

    @property
    def method_name(self) -> str:
        """The ``method`` column: cap-m, cap-soft, movement or soft-movement."""
        return METHOD_NAMES[(self.pruning_method, self.use_contrastive)]

    @property
    def needs_teacher(self) -> bool:
        """KD needs it, and so does the FiC bank even without KD (pitfall 18)."""
        return self.use_contrastive or self.distill_loss_weight > 0

    def _check_thresholds(self) -> None:
        if self.pruning_method == "topk":
            rule = "a keep ratio in (0, 1] for pruning_method 'topk'"
            ok = lambda v: 0 < v <= 1  # noqa: E731
        else:
            rule = "a sigmoid threshold in [0, 1) for pruning_method 'soft'"
            ok = lambda v: 0 <= v < 1  # noqa: E731
        for key in ("initial_threshold", "final_threshold"):
            _check(ok(getattr(self, key)), key, getattr(self, key), rule)
        if self.pruning_method == "soft":
            # lambda(t) = final_lambda * threshold(t) / final_threshold (methods.md 2.4)
            _check(self.final_threshold > 0, "final_threshold", self.final_threshold,
                   "> 0 for pruning_method 'soft' (lambda is scaled by it)")
        else:
            _check(self.final_lambda == 0, "final_lambda", self.final_lambda,
                   "0 for pruning_method 'topk' (the L1 regulariser is CAP-soft's)")
        _check(_finite(self.final_lambda) and self.final_lambda >= 0, "final_lambda",
               self.final_lambda, ">= 0")
        for key in ("initial_warmup", "final_warmup"):
            _check(_finite(getattr(self, key)) and getattr(self, key) >= 0, key,
                   getattr(self, key), ">= 0 (in units of the warm-up length)")
        _check(self.mask_scores_learning_rate > 0, "mask_scores_learning_rate",
               self.mask_scores_learning_rate, "> 0")
        _check(_finite(self.mask_init), "mask_init", self.mask_init, "a finite number")

    def _check_lambda_control(self) -> None:
        if not self.lambda_control:
            return
        _check(self.pruning_method == "soft", "lambda_control", self.lambda_control,
               "false for pruning_method 'topk' (top-k hits its sparsity exactly; the "
               "controller steers CAP-soft's L1 weight)")
        _check(self.final_lambda > 0, "final_lambda", self.final_lambda,
               "> 0 with lambda_control (the controller scales it)")
        target = self.lambda_control_target
        _check(target is not None, "lambda_control_target", target,
               "a weight_sparsity in (0, 1) with lambda_control=true (or launch --targets, "
               "which sets it per trial)")
        _check(_finite(target) and 0 < target < 1, "lambda_control_target", target,
               "a weight_sparsity in (0, 1)")
        _check(_finite(self.lambda_control_gain) and self.lambda_control_gain > 0,
               "lambda_control_gain", self.lambda_control_gain, "> 0")
        _check(self.lambda_control_every >= 0, "lambda_control_every",
               self.lambda_control_every, ">= 0 (0: total steps // 50)")
        _check(_finite(self.lambda_control_max_scale) and self.lambda_control_max_scale > 1,
               "lambda_control_max_scale", self.lambda_control_max_scale, "> 1")

    def _check_objective(self) -> None:
        for key in ("ce_loss_weight", "distill_loss_weight", "cl_unsupervised_loss_weight",
                    "cl_supervised_loss_weight"):
            value = getattr(self, key)
            _check(_finite(value) and value >= 0, key, value, ">= 0")
        for key in ("kd_temperature", "contrastive_temperature"):
            value = getattr(self, key)
            _check(_finite(value) and value > 0, key, value, "> 0")
        _check(self.extra_examples >= 0, "extra_examples", self.extra_examples, ">= 0")
        _check(self.alignrep in ALIGNREPS, "alignrep", self.alignrep,
               f"one of {', '.join(ALIGNREPS)}")
        _check(self.bank_dtype in BANK_DTYPES, "bank_dtype", self.bank_dtype,
               f"one of {', '.join(BANK_DTYPES)}")

    def _check_teacher(self) -> None:
        _check(self.teacher_path is None or self.teacher_path.strip() != "", "teacher_path",
               self.teacher_path, "None or a model folder")
        _check(self.teacher_learning_rate > 0, "teacher_learning_rate",
               self.teacher_learning_rate, "> 0")
        _check(self.teacher_num_train_epochs > 0, "teacher_num_train_epochs",
               self.teacher_num_train_epochs, "> 0")
        _check(self.teacher_max_steps >= 0, "teacher_max_steps", self.teacher_max_steps, ">= 0")
        _check(self.teacher_train_batch_size >= 1, "teacher_train_batch_size",
               self.teacher_train_batch_size, ">= 1")


def check_schedule_fits(cfg: CapConfig, total_steps: int, warmup_steps: int) -> None:
    """The flat phases must fit the run: ``(iw + fw) * W <= T`` (else no cubic at all).

    Raises:
        ConfigError: naming the numbers and what to change.
    """
    flat = (cfg.initial_warmup + cfg.final_warmup) * warmup_steps
    if flat > total_steps:
        raise ConfigError(
            f"the pruning schedule does not fit: (initial_warmup + final_warmup) * warmup = "
            f"({cfg.initial_warmup:g} + {cfg.final_warmup:g}) * {warmup_steps} = {flat:g} "
            f"steps, but the run has {total_steps} steps; lower `warmup_steps` (the scripts' "
            "11000 fits QQP/MNLI at 10 epochs) or set warmup_steps=0 and a `warmup_ratio`"
        )


def _finite(value: float) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _check(ok: bool, key: str, value: Any, rule: str) -> None:
    if not ok:
        raise ConfigError(f"`{key}` must be {rule}, but got {value!r}")
