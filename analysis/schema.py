"""The Parquet result schema: with :mod:`analysis.layout` (the folder's and files' names),
the one contract between the orchestrator and the analysis.

One row per evaluation a trial reports; the last row of a finished trial has
``is_final = True``. The column names and their types in words are :mod:`facts.columns`'
(re-exported here); this module adds the Arrow types, the version, and building and
checking a table. The orchestrator's writer builds its tables here; the analysis package
reads nothing else. Only pyarrow (and the stdlib-only ``facts``) are imported.

Example:
    >>> from analysis import schema
    >>> from analysis.io import read_results
    >>> df = read_results("experiments/cap_soft_qqp-demo")       # doctest: +SKIP
    >>> df[df[schema.IS_FINAL]][[schema.SCORE, schema.WEIGHT_SPARSITY]]  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any

import pyarrow as pa

if TYPE_CHECKING:  # the frame helpers take pandas frames; pandas is not imported here
    import pandas as pd

# The names are facts.columns' (the one owner of every column and report key), re-exported
# here so that readers of the results keep writing ``schema.SCORE``.
from facts.columns import (  # noqa: F401
    ACCURACY, CHECKPOINT_PATH, COLLAPSED, COLUMN_TYPES, DENSE_LATENCY_MS, DEVICE, ELAPSED_S,
    EPOCH, ERROR, EVAL_EXAMPLES, EVAL_LABEL_COUNTS, EVAL_LOSS, EXAMPLES_PER_S, EXPERIMENT, F1,
    HEAD_SPARSITY, IS_FINAL, ITERATION, LATENCY_MS, MAJORITY_SCORE, MCC, METHOD, METHODS,
    METRIC_COLUMNS, MNLI_MM_ACCURACY, MODEL, NODE, PARAM_PREFIX, PARAMS_REMAINING,
    PARAMS_TOTAL, PEARSON, PREDICTED_SPARSITY, PROFILE, REQUIRED, SCHEMA_VERSION_COL, SCORE,
    SCORE_SE, SEED, SPACE, SPEARMAN, SPEEDUP, STATUS, STATUS_COMPLETED, STATUS_DIVERGED,
    STATUS_FAILED, STATUS_PRUNED, STATUS_RUNNING, STATUSES, STEP, TARGET_SPARSITY, TASK,
    TRAIN_TIME_S, TRIAL_ID, WEIGHT_SPARSITY, param_column,
)

#: 2 added target_sparsity, predicted_sparsity, speedup and checkpoint_path; 3 added the
#: evidence columns (eval_examples, eval_label_counts, majority_score, score_se, collapsed).
#: Files of older versions are read with the newer columns as nulls.
SCHEMA_VERSION = 3

#: Every fixed column with its Arrow type (names and types in words: facts.columns).
_ARROW = {"string": pa.string(), "float64": pa.float64(), "int64": pa.int64(),
          "int32": pa.int32(), "bool": pa.bool_()}
COLUMNS: dict[str, pa.DataType] = {name: _ARROW[kind] for name, kind in COLUMN_TYPES.items()}
_STR, _F64, _I64 = _ARROW["string"], _ARROW["float64"], _ARROW["int64"]


class SchemaError(ValueError):
    """A result table does not follow this schema."""


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


def plain_value(value: Any, *, whole_floats_as_int: bool = False) -> Any:
    """A cell of a result frame as a plain Python value: numpy scalars unwrapped, NaN as
    None; with ``whole_floats_as_int``, 3.0 as 3 (a setting compared across sweeps)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if whole_floats_as_int and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def final_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The rows with ``is_final`` set (a null counts as not final); an empty frame as is."""
    return df[df[IS_FINAL].fillna(False).astype(bool)] if len(df) else df


def completed_final_rows(df: pd.DataFrame) -> pd.DataFrame:
    """The final rows of the trials that completed: one per finished trial, the model a
    trial ends with (a pruned, failed or diverged trial's terminal row is final too, but
    not completed). An empty frame is returned as is."""
    final = final_rows(df)
    return final[final[STATUS] == STATUS_COMPLETED] if len(final) else final


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
