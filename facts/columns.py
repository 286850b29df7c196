"""Every result column and every key a trainable reports: the one owner of their names.

The trainables write these keys in their reports, the orchestrator reads some of them while
a sweep runs and stores the rest as Parquet columns, and the analysis reads the columns back:
all three import the names from here, so a rename cannot leave one side reading a key
nobody writes. :mod:`analysis.schema` turns :data:`COLUMN_TYPES` into the Arrow schema;
:mod:`trainables.report_keys` is the trainables' short view of the report keys.

A report key is *known* when it is a column or one of :data:`REPORT_EXTRAS` (keys the
orchestrator reads, or keeps in Ray's result only). The results writer refuses any other
key (:func:`unknown_report_keys`): a misspelt key would otherwise be dropped silently.

Example:
    >>> from facts import columns as C
    >>> {C.IS_FINAL: True}
    {'is_final': True}
    >>> unknown_report_keys({C.SCORE: 0.9, C.TOTAL_STEPS: 4, "weight_sparsty": 0.5})
    ['weight_sparsty']
"""

from __future__ import annotations

from collections.abc import Iterable

# identity (filled in by the orchestrator; a trainable reports method, task, model, seed)
EXPERIMENT = "experiment"
SPACE = "space"
METHOD = "method"
TASK = "task"
MODEL = "model"
PROFILE = "profile"
TRIAL_ID = "trial_id"
STATUS = "status"
SEED = "seed"
# progress
ITERATION = "iteration"
STEP = "step"  # optimizer steps done at this report
EPOCH = "epoch"
ELAPSED_S = "elapsed_s"
IS_FINAL = "is_final"  # True on the trial's last report only
# quality
SCORE = "score"
ACCURACY = "accuracy"
F1 = "f1"
MCC = "mcc"
PEARSON = "pearson"
SPEARMAN = "spearman"
MNLI_MM_ACCURACY = "mnli_mm_accuracy"
EVAL_LOSS = "eval_loss"
# evidence (schema 3): what the score rests on, measured on the rows it was computed from
# (trainables.score_evidence says how)
EVAL_EXAMPLES = "eval_examples"  # rows of the evaluation split the score rests on
EVAL_LABEL_COUNTS = "eval_label_counts"  # their gold labels counted, JSON; null for regression
MAJORITY_SCORE = "majority_score"  # always answering their most frequent label, task metric
SCORE_SE = "score_se"  # standard error of score: binomial for accuracy, else a bootstrap
COLLAPSED = "collapsed"  # score within 2 se of majority_score: a constant predictor
# sparsity: all four by the one counting rule of trainables.sparsity
WEIGHT_SPARSITY = "weight_sparsity"
HEAD_SPARSITY = "head_sparsity"
PARAMS_TOTAL = "params_total"
PARAMS_REMAINING = "params_remaining"
# cost
TRAIN_TIME_S = "train_time_s"
EXAMPLES_PER_S = "examples_per_s"
DEVICE = "device"
LATENCY_MS = "latency_ms"
DENSE_LATENCY_MS = "dense_latency_ms"
NODE = "node"  # the Ray node that ran the evaluation
SPEEDUP = "speedup"  # dense_latency_ms / latency_ms, measured the same way
# targets (schema 2)
# the weight_sparsity the trial was aimed at; null without --targets
TARGET_SPARSITY = "target_sparsity"
PREDICTED_SPARSITY = "predicted_sparsity"  # what the calibration model predicted for the trial
# artefacts (schema 2)
CHECKPOINT_PATH = "checkpoint_path"  # the final row's checkpoint (the exportable model)
# bookkeeping
SCHEMA_VERSION_COL = "schema_version"
ERROR = "error"

PARAM_PREFIX = "param_"

# Report keys that are not columns (REPORT_EXTRAS below).
TOTAL_STEPS = "total_steps"  # optimizer steps of the whole trial (progress lines)
# True once sparsity no longer changes (always for dense and SMP; CAP after its threshold
# schedule): multi-objective early stopping compares trials only from that point on.
SPARSITY_SETTLED = "sparsity_settled"
BANK_BYTES = "bank_bytes"  # CAP: memory of its contrastive banks (Ray's result only)
LAMBDA_SCALE = "lambda_scale"  # CAP with lambda control: the final scale (Ray's result only)
WORK_S = "work_s"  # the fixed-work trainable: seconds of work done (Ray's result only)

# Trial states as written in the `status` column.
STATUS_RUNNING = "running"  # an intermediate evaluation
STATUS_COMPLETED = "completed"  # the final row of a trial that finished normally
STATUS_FAILED = "failed"  # the trial raised (after its retries); `error` says why
STATUS_DIVERGED = "diverged"  # the loss became NaN/inf; the trial was stopped
STATUS_PRUNED = "pruned"  # stopped early by the multi-objective scheduler
STATUSES = (STATUS_RUNNING, STATUS_COMPLETED, STATUS_FAILED, STATUS_DIVERGED, STATUS_PRUNED)

#: Values of the `method` column.
METHODS = ("dense", "smp", "cap-m", "cap-soft", "movement", "soft-movement")

_STR, _F64, _I64, _I32, _BOOL = "string", "float64", "int64", "int32", "bool"

#: Every fixed column with its storage type in words (``analysis.schema`` maps them to Arrow
#: types); ``param_<name>`` columns come on top.
COLUMN_TYPES: dict[str, str] = {
    EXPERIMENT: _STR,
    SPACE: _STR,
    METHOD: _STR,
    TASK: _STR,
    MODEL: _STR,
    PROFILE: _STR,
    TRIAL_ID: _STR,
    STATUS: _STR,
    SEED: _I64,
    ITERATION: _I64,
    STEP: _I64,
    EPOCH: _F64,
    ELAPSED_S: _F64,
    IS_FINAL: _BOOL,
    SCORE: _F64,
    ACCURACY: _F64,
    F1: _F64,
    MCC: _F64,
    PEARSON: _F64,
    SPEARMAN: _F64,
    MNLI_MM_ACCURACY: _F64,
    EVAL_LOSS: _F64,
    EVAL_EXAMPLES: _I64,
    EVAL_LABEL_COUNTS: _STR,
    MAJORITY_SCORE: _F64,
    SCORE_SE: _F64,
    COLLAPSED: _BOOL,
    WEIGHT_SPARSITY: _F64,
    HEAD_SPARSITY: _F64,
    PARAMS_TOTAL: _I64,
    PARAMS_REMAINING: _I64,
    TRAIN_TIME_S: _F64,
    EXAMPLES_PER_S: _F64,
    DEVICE: _STR,
    LATENCY_MS: _F64,
    DENSE_LATENCY_MS: _F64,
    NODE: _STR,
    SPEEDUP: _F64,
    TARGET_SPARSITY: _F64,
    PREDICTED_SPARSITY: _F64,
    CHECKPOINT_PATH: _STR,
    SCHEMA_VERSION_COL: _I32,
    ERROR: _STR,
}

#: Columns every valid result file must carry.
REQUIRED: tuple[str, ...] = (
    EXPERIMENT, SPACE, METHOD, TASK, MODEL, PROFILE, TRIAL_ID, STATUS, SEED, ITERATION, STEP,
    EPOCH, ELAPSED_S, IS_FINAL, SCORE, WEIGHT_SPARSITY, HEAD_SPARSITY, SCHEMA_VERSION_COL,
)

#: Metrics a trainable reports that the row takes as they are (the rest of the row is filled
#: in by the orchestrator).
METRIC_COLUMNS: tuple[str, ...] = (
    STEP, EPOCH, ELAPSED_S, IS_FINAL, SCORE, ACCURACY, F1, MCC, PEARSON, SPEARMAN,
    MNLI_MM_ACCURACY, EVAL_LOSS, EVAL_EXAMPLES, EVAL_LABEL_COUNTS, MAJORITY_SCORE, SCORE_SE,
    COLLAPSED, WEIGHT_SPARSITY, HEAD_SPARSITY, PARAMS_TOTAL, PARAMS_REMAINING, TRAIN_TIME_S,
    EXAMPLES_PER_S, DEVICE, LATENCY_MS, DENSE_LATENCY_MS, NODE, SPEEDUP, CHECKPOINT_PATH,
)

#: Columns the orchestrator passes through a trial's config under ``--targets`` (recorded in
#: the results by the writer; the Ray adapter drops them before the trainable sees its config).
SWEEP_ONLY_KEYS = (TARGET_SPARSITY, PREDICTED_SPARSITY)

#: Report keys that are not columns: declared here so that the writer knows them.
REPORT_EXTRAS: frozenset[str] = frozenset(
    {TOTAL_STEPS, SPARSITY_SETTLED, BANK_BYTES, LAMBDA_SCALE, WORK_S})


def param_column(name: str) -> str:
    """The column that holds the searched hyper-parameter ``name``."""
    return f"{PARAM_PREFIX}{name}"


def is_report_key(key: str) -> bool:
    """True for a key a trainable may report: a fixed column or a declared extra."""
    return key in COLUMN_TYPES or key in REPORT_EXTRAS


def unknown_report_keys(keys: Iterable[str]) -> list[str]:
    """The keys of ``keys`` that are neither a column nor a declared extra, sorted."""
    return sorted(k for k in set(keys) if not is_report_key(k))
