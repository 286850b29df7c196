"""The Parquet result schema: the one contract between the orchestrator and the analysis.

One row per evaluation a trial reports; the last row of a finished trial has
``is_final = True``. The orchestrator's writer imports the names from here; the analysis
package reads nothing else. Only pandas and pyarrow are imported.

Example:
    >>> from analysis import schema
    >>> df = schema.read_results("experiments/cap_soft_qqp-demo")   # doctest: +SKIP
    >>> df[df[schema.IS_FINAL]][[schema.SCORE, schema.WEIGHT_SPARSITY]]  # doctest: +SKIP
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import pyarrow as pa

if TYPE_CHECKING:  # pandas is imported where a frame is built, not at import time
    import pandas as pd

#: 2 added target_sparsity, predicted_sparsity, speedup and checkpoint_path; version 1 files
#: are read with those columns as nulls.
SCHEMA_VERSION = 2

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


#: File names of the writer (the reader's contract): one file per reported row,
#: ``<trial_id>-it<iteration>[-<status>].parquet``, and once a trial ends one file with all
#: its rows so far, ``<trial_id>-upto<iteration>.parquet``.
#:
#: Layout: the per-row files live in ``<experiment>/_rows/`` and each finished trial's
#: consolidated file in ``<experiment>/results/``, so stock readers of ``results/``
#: (pandas, pyarrow.dataset, duckdb, polars; the latter two recurse into sub-folders, even
#: ``_``-prefixed ones, so the rows cannot live below ``results/``) read every finished row
#: exactly once. Experiments written before that split keep both kinds side by side in
#: ``results/``; the readers here read either layout.
ROWS_DIR = "_rows"
RESULT_NAME = re.compile(r"^(?P<trial>.+)-it(?P<iteration>\d+)(?:-[a-z]+)?\.parquet$")
CONSOLIDATED_NAME = re.compile(r"^(?P<trial>.+)-upto(?P<iteration>\d+)\.parquet$")


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


def collapse_consolidated(paths: Iterable[str]) -> list[str]:
    """Each trial's newest consolidated file plus only its per-row files after it.

    When a trial ends the writer also writes ``<trial_id>-upto<iteration>.parquet`` holding
    every row of that trial so far; its per-row files up to that iteration are then
    redundant. Reading one file per finished trial instead of one per evaluation is what
    keeps reading 100,000 rows fast. Names that follow neither pattern are all kept.

    Example:
        >>> collapse_consolidated(["r/a-it000001.parquet", "r/a-it000002.parquet",
        ...                        "r/a-upto000002.parquet", "r/b-it000001.parquet"])
        ['r/a-upto000002.parquet', 'r/b-it000001.parquet']
    """
    paths = list(paths)
    upto: dict[str, int] = {}
    for p in paths:
        m = CONSOLIDATED_NAME.match(p.rsplit("/", 1)[-1])
        if m:
            upto[m["trial"]] = max(upto.get(m["trial"], -1), int(m["iteration"]))
    kept = []
    for p in paths:
        name = p.rsplit("/", 1)[-1]
        consolidated, row = CONSOLIDATED_NAME.match(name), RESULT_NAME.match(name)
        if consolidated:
            if int(consolidated["iteration"]) == upto[consolidated["trial"]]:
                kept.append(p)
        elif row and row["trial"] in upto:
            if int(row["iteration"]) > upto[row["trial"]]:
                kept.append(p)
        else:
            kept.append(p)
    return kept


def rows_behind(consolidated: str, paths: Iterable[str]) -> list[str]:
    """The per-row files a consolidated file stands for: its fallback when it is unreadable.

    A corrupt ``<trial>-upto<N>.parquet`` must not drop its trial: the trial's per-row files
    up to iteration ``N`` (never deleted by the writer) hold the same rows. They sit beside it
    (the old layout) or in the experiment's ``_rows/`` folder (:data:`ROWS_DIR`). Returns
    ``[]`` for a path that is not a consolidated file.

    Example:
        >>> rows_behind("r/a-upto000002.parquet", ["r/a-it000001.parquet",
        ...             "r/a-it000002.parquet", "r/a-upto000002.parquet", "r/b-it000001.parquet"])
        ['r/a-it000001.parquet', 'r/a-it000002.parquet']
    """
    folder, _, name = consolidated.rpartition("/")
    match = CONSOLIDATED_NAME.match(name)
    if not match:
        return []
    experiment = folder.rpartition("/")[0]
    folders = {folder, f"{experiment}/{ROWS_DIR}" if experiment else ROWS_DIR}
    behind = []
    for p in paths:
        head, _, base = p.rpartition("/")
        row = RESULT_NAME.match(base)
        if head in folders and row and row["trial"] == match["trial"] \
                and int(row["iteration"]) <= int(match["iteration"]):
            behind.append(p)
    return sorted(behind)


def result_files(experiment_dir: str | Path) -> list[Path]:
    """The Parquet result files of one local experiment folder to read, in name order.

    Finished trials are read from their consolidated file, running ones from their per-row
    files (:func:`collapse_consolidated`), in ``results/`` and ``_rows/`` (both layouts,
    see :data:`ROWS_DIR`); temporary files of the writer are left out.
    """
    results = Path(experiment_dir) / "results"
    found = [p for folder in (results, Path(experiment_dir) / ROWS_DIR)
             for p in folder.glob("*.parquet")
             if p.is_file() and not p.name.startswith((".", "_"))]
    names = [str(p) for p in sorted(found, key=lambda p: (p.name, str(p)))]
    return [Path(p) for p in collapse_consolidated(names)]


def read_results(experiment_dir: str | Path, *, strict: bool = False) -> pd.DataFrame:
    """Read and validate every result file of a local experiment folder.

    A file that is not Parquet, or lacks required columns, is skipped with a warning that
    names it (``strict=True`` raises instead). A file written by a newer schema is always
    an error. Returns an empty frame with the fixed columns when there is nothing to read.
    """
    import pandas as pd
    import pyarrow.parquet as pq

    frames = []
    queue = result_files(experiment_dir)
    while queue:
        path = queue.pop(0)
        try:
            table = pq.read_table(path)
            validate_columns(table.column_names, source=str(path))
        except (pa.ArrowException, OSError, SchemaError) as exc:
            if strict:
                raise SchemaError(f"cannot read {path}: {exc}") from exc
            every = sorted(str(p) for folder in (path.parent, path.parent.parent / ROWS_DIR)
                           for p in folder.glob("*.parquet") if p.is_file())
            behind = [Path(p) for p in rows_behind(str(path), every)]
            warnings.warn(f"skipping {path}: {exc}" + (
                f"; reading its {len(behind)} per-row files instead" if behind else ""),
                stacklevel=2)
            queue[:0] = behind
            continue
        validate_version(table.column(SCHEMA_VERSION_COL).to_pylist(), source=str(path))
        frames.append(table.to_pandas())
    if not frames:
        return arrow_schema().empty_table().to_pandas()
    return pd.concat(frames, ignore_index=True, sort=False)
