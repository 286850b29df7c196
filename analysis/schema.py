"""The Parquet result schema: with :mod:`analysis.layout` (the folder's and files' names),
the one contract between the orchestrator and the analysis.

One row per evaluation a trial reports; the last row of a finished trial has
``is_final = True``. The orchestrator's writer imports the names from here; the analysis
package reads nothing else. Only pandas and pyarrow are imported.

Example:
    >>> from analysis import schema
    >>> from analysis import io
    >>> df = io.read_results("experiments/cap_soft_qqp-demo")       # doctest: +SKIP
    >>> df[df[schema.IS_FINAL]][[schema.SCORE, schema.WEIGHT_SPARSITY]]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import pyarrow as pa

if TYPE_CHECKING:  # pandas is imported where a frame is built, not at import time
    import pandas as pd

#: 2 added target_sparsity, predicted_sparsity, speedup and checkpoint_path; 3 added the
#: evidence columns (eval_examples, eval_label_counts, majority_score, score_se, collapsed).
#: Files of older versions are read with the newer columns as nulls.
SCHEMA_VERSION = 3

# identity
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
STEP = "step"
EPOCH = "epoch"
ELAPSED_S = "elapsed_s"
IS_FINAL = "is_final"
# quality
SCORE = "score"
ACCURACY = "accuracy"
F1 = "f1"
MCC = "mcc"
PEARSON = "pearson"
SPEARMAN = "spearman"
MNLI_MM_ACCURACY = "mnli_mm_accuracy"
EVAL_LOSS = "eval_loss"
# evidence (version 3): what the score rests on, measured on the rows it was computed from
# (trainables.score_evidence says how)
EVAL_EXAMPLES = "eval_examples"  # rows of the evaluation split the score rests on
EVAL_LABEL_COUNTS = "eval_label_counts"  # their gold labels counted, JSON; null for regression
MAJORITY_SCORE = "majority_score"  # always answering their most frequent label, task metric
SCORE_SE = "score_se"  # standard error of score: binomial for accuracy, else a bootstrap
COLLAPSED = "collapsed"  # score within 2 se of majority_score: a constant predictor
# sparsity
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
# targets (version 2)
TARGET_SPARSITY = "target_sparsity"  # the weight_sparsity the trial was aimed at; null without --targets
PREDICTED_SPARSITY = "predicted_sparsity"  # what the calibration model predicted for the trial
# artefacts (version 2)
CHECKPOINT_PATH = "checkpoint_path"  # the final row's checkpoint (the exportable model)
# bookkeeping
SCHEMA_VERSION_COL = "schema_version"
ERROR = "error"

PARAM_PREFIX = "param_"

# Trial states as written in the `status` column.
STATUS_RUNNING = "running"  # an intermediate evaluation
STATUS_COMPLETED = "completed"  # the final row of a trial that finished normally
STATUS_FAILED = "failed"  # the trial raised (after its retries); `error` says why
STATUS_DIVERGED = "diverged"  # the loss became NaN/inf; the trial was stopped
STATUS_PRUNED = "pruned"  # stopped early by the multi-objective scheduler
STATUSES = (STATUS_RUNNING, STATUS_COMPLETED, STATUS_FAILED, STATUS_DIVERGED, STATUS_PRUNED)

METHODS = ("dense", "smp", "cap-m", "cap-soft", "movement", "soft-movement")

_STR = pa.string()
_F64 = pa.float64()
_I64 = pa.int64()

#: Every fixed column with its Arrow type. ``param_<name>`` columns come on top.
COLUMNS: dict[str, pa.DataType] = {
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
    IS_FINAL: pa.bool_(),
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
    COLLAPSED: pa.bool_(),
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
    SCHEMA_VERSION_COL: pa.int32(),
    ERROR: _STR,
}

#: Columns every valid result file must carry.
REQUIRED: tuple[str, ...] = (
    EXPERIMENT,
    SPACE,
    METHOD,
    TASK,
    MODEL,
    PROFILE,
    TRIAL_ID,
    STATUS,
    SEED,
    ITERATION,
    STEP,
    EPOCH,
    ELAPSED_S,
    IS_FINAL,
    SCORE,
    WEIGHT_SPARSITY,
    HEAD_SPARSITY,
    SCHEMA_VERSION_COL,
)

#: Metrics a trainable reports (the rest of the row is filled in by the orchestrator).
METRIC_COLUMNS: tuple[str, ...] = (
    STEP,
    EPOCH,
    ELAPSED_S,
    IS_FINAL,
    SCORE,
    ACCURACY,
    F1,
    MCC,
    PEARSON,
    SPEARMAN,
    MNLI_MM_ACCURACY,
    EVAL_LOSS,
    EVAL_EXAMPLES,
    EVAL_LABEL_COUNTS,
    MAJORITY_SCORE,
    SCORE_SE,
    COLLAPSED,
    WEIGHT_SPARSITY,
    HEAD_SPARSITY,
    PARAMS_TOTAL,
    PARAMS_REMAINING,
    TRAIN_TIME_S,
    EXAMPLES_PER_S,
    DEVICE,
    LATENCY_MS,
    DENSE_LATENCY_MS,
    NODE,
    SPEEDUP,
    CHECKPOINT_PATH,
)


class SchemaError(ValueError):
    """A result table does not follow this schema."""


def param_column(name: str) -> str:
    """The column that holds the searched hyper-parameter ``name``."""
    return f"{PARAM_PREFIX}{name}"


def arrow_schema(param_types: Mapping[str, pa.DataType] | None = None) -> pa.Schema:
    """The Arrow schema of a result file, with ``param_<name>`` columns appended."""
    fields = [pa.field(name, typ) for name, typ in COLUMNS.items()]
    for name, typ in (param_types or {}).items():
        fields.append(pa.field(param_column(name), typ))
    return pa.schema(fields)


def _param_type(value: Any) -> pa.DataType:
    if isinstance(value, bool):
        return pa.bool_()
    if isinstance(value, int):
        return _I64
    if isinstance(value, float):
        return _F64
    return _STR


def rows_to_table(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """Build a schema-conformant Arrow table from row dicts.

    Missing fixed columns become nulls, ``param_*`` keys keep their Python type, and any
    other key is an error (a typo would otherwise vanish silently).
    """
    rows = list(rows)
    param_types: dict[str, pa.DataType] = {}
    for row in rows:
        for key, value in row.items():
            if key in COLUMNS:
                continue
            if not key.startswith(PARAM_PREFIX):
                raise SchemaError(
                    f"column {key!r} is not in the result schema (fixed columns or "
                    f"'{PARAM_PREFIX}<name>')"
                )
            if value is not None:
                param_types.setdefault(key[len(PARAM_PREFIX) :], _param_type(value))
    schema = arrow_schema(param_types)
    columns = {}
    for field in schema:
        values = [row.get(field.name) for row in rows]
        if field.name == SCHEMA_VERSION_COL:
            values = [SCHEMA_VERSION if v is None else v for v in values]
        if pa.types.is_string(field.type):
            values = [None if v is None else str(v) for v in values]
        columns[field.name] = pa.array(values, type=field.type)
    return pa.Table.from_pydict(columns, schema=schema)


def validate_columns(columns: Iterable[str], source: str = "table") -> None:
    """Raise :class:`SchemaError` naming every required column that is missing."""
    present = set(columns)
    missing = [c for c in REQUIRED if c not in present]
    if missing:
        raise SchemaError(f"{source} lacks required result columns: {', '.join(missing)}")


def validate_version(versions: Iterable[int], source: str = "table") -> None:
    """Refuse rows written by a newer schema than this reader knows."""
    newer = sorted({int(v) for v in versions if v is not None and int(v) > SCHEMA_VERSION})
    if newer:
        raise SchemaError(
            f"{source} was written with schema_version {newer[-1]}, but this reader knows "
            f"versions up to {SCHEMA_VERSION}; upgrade the analysis package"
        )


def read_results(experiment_dir: str | Path, *, strict: bool = False) -> pd.DataFrame:
    """Every result row of an experiment, or an empty frame with the fixed columns.

    :func:`analysis.io.read_results` (the one reader) under its older name.
    """
    from analysis.io import read_results

    return read_results(experiment_dir, strict=strict)
