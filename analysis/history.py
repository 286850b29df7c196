"""Hypervolume against trials, per experiment and task.

Trials are taken in natural trial-id order (Ray Tune numbers its trials as it creates
them, so this is the order the searcher proposed them). A trial that is not completed
(failed, diverged, pruned, running) or has a NaN objective adds nothing.

Example:
    >>> history_frame(df).groupby("experiment").hypervolume.last()  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from analysis import schema
from analysis.fronts import DEFAULT_OBJECTIVES
from analysis.fronts import STATE
from analysis.fronts import decisive_rows
from analysis.fronts import trial_order
from analysis.fronts import trial_states
from analysis.hypervolume import hypervolume_history
from analysis.hypervolume import reference_point
from analysis.pareto import check_objectives
from analysis.pareto import to_minimization
from analysis.summary import reference_array

COLUMNS = (schema.EXPERIMENT, schema.TASK, "trial_number", schema.TRIAL_ID, STATE,
           "hypervolume")


def history_frame(
    df: pd.DataFrame,
    objectives: Mapping[str, str] | None = None,
    overrides: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """One row per trial with the hypervolume of its experiment's front after it.

    Args:
        df: result rows (:func:`analysis.io.read_experiments`).
        objectives: column -> direction; default weight_sparsity and score, both max.
        overrides: reference values replacing the default rules (one reference per task,
            shared by all experiments on it, so their histories compare).

    Returns:
        A DataFrame with the :data:`COLUMNS`, ``trial_number`` counting from 1.
    """
    objectives = dict(objectives or DEFAULT_OBJECTIVES)
    check_objectives(objectives, list(df.columns))
    rows = decisive_rows(df)
    rows[schema.TASK] = rows[schema.TASK].astype(object).fillna("?")
    rows = rows.assign(**{STATE: trial_states(rows, objectives).to_numpy()})
    parts = []
    for task, task_rows in rows.groupby(schema.TASK, sort=True):
        done = task_rows[task_rows[STATE] == "completed"]
        ref = reference_array(reference_point(done, objectives, task, overrides), objectives)
        for _, exp_rows in task_rows.groupby(schema.EXPERIMENT, sort=True):
            parts.append(_one_history(exp_rows, objectives, ref))
    if not parts:
        return pd.DataFrame(columns=list(COLUMNS))
    return pd.concat(parts, ignore_index=True)


def _one_history(
    rows: pd.DataFrame, objectives: Mapping[str, str], ref: np.ndarray
) -> pd.DataFrame:
    rows = rows.iloc[trial_order(rows[schema.TRIAL_ID])]
    values = to_minimization(rows, objectives)
    values[(rows[STATE] != "completed").to_numpy()] = np.nan
    out = rows[[schema.EXPERIMENT, schema.TASK, schema.TRIAL_ID, STATE]].reset_index(drop=True)
    out.insert(2, "trial_number", np.arange(1, len(rows) + 1))
    out["hypervolume"] = hypervolume_history(values, ref)
    return out[list(COLUMNS)]
