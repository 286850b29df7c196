"""Hypervolume against trials, per experiment and task.

Trials are taken in the order the sweep proposed them: ``order`` maps each experiment's
trial ids to a sort key (the Optuna study's trial number, or the start time; see
:mod:`analysis.trial_order`). Ray Tune's ids are random hex, so sorting them means nothing;
they only break ties and order trials ``order`` does not know (last). A trial that is not
completed (failed, diverged, pruned, running) or has a NaN objective adds nothing.

Example:
    >>> history_frame(df).groupby("experiment").hypervolume.last()  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
    order: Mapping[str, Mapping[str, float]] | None = None,
    majority: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """One row per trial with the hypervolume of its experiment's front after it.

    Args:
        df: result rows (:func:`analysis.io.read_experiments`).
        objectives: column -> direction; default weight_sparsity and score, both max.
        overrides: reference values replacing the default rules (one reference per task,
            shared by all experiments on it, so their histories compare).
        order: experiment name -> (trial id -> sort key); without it (or for trials it
            lacks) trials follow their ids.
        majority: task -> the majority-class score recorded for it (see
            :func:`analysis.hypervolume.reference_point`).

    Returns:
        A DataFrame with the :data:`COLUMNS`, ``trial_number`` counting from 1 in that order.
    """
    objectives = dict(objectives or DEFAULT_OBJECTIVES)
    check_objectives(objectives, list(df.columns))
    rows = decisive_rows(df)
    rows[schema.TASK] = rows[schema.TASK].astype(object).fillna("?")
    rows = rows.assign(**{STATE: trial_states(rows, objectives).to_numpy()})
    parts = []
    for task, task_rows in rows.groupby(schema.TASK, sort=True):
        done = task_rows[task_rows[STATE] == "completed"]
        recorded = (majority or {}).get(str(task))
        ref = reference_array(reference_point(done, objectives, task, overrides, recorded),
                              objectives)
        for name, exp_rows in task_rows.groupby(schema.EXPERIMENT, sort=True):
            keys = (order or {}).get(str(name), {})
            parts.append(_one_history(exp_rows, objectives, ref, keys))
    if not parts:
        return pd.DataFrame(columns=list(COLUMNS))
    return pd.concat(parts, ignore_index=True)


def _one_history(
    rows: pd.DataFrame, objectives: Mapping[str, str], ref: np.ndarray,
    keys: Mapping[str, float],
) -> pd.DataFrame:
    rows = rows.iloc[proposal_order(rows[schema.TRIAL_ID], keys)]
    values = to_minimization(rows, objectives)
    values[(rows[STATE] != "completed").to_numpy()] = np.nan
    out = rows[[schema.EXPERIMENT, schema.TASK, schema.TRIAL_ID, STATE]].reset_index(drop=True)
    out.insert(2, "trial_number", np.arange(1, len(rows) + 1))
    out["hypervolume"] = hypervolume_history(values, ref)
    return out[list(COLUMNS)]


def proposal_order(trial_ids: Any, keys: Mapping[str, float]) -> np.ndarray:
    """Positions that sort trials by ``keys`` (trial id -> key); unknown ids last, by id.

    Example:
        >>> proposal_order(["b7", "a1", "c3", "x"], {"b7": 0, "c3": 1, "a1": 2}).tolist()
        [0, 2, 1, 3]
    """
    ids = [str(t) for t in trial_ids]
    by_id = trial_order(ids)  # the tie-break and the order of trials ``keys`` lacks
    rank = np.empty(len(ids), dtype=int)
    rank[by_id] = np.arange(len(ids))
    return np.array(sorted(range(len(ids)), key=lambda i: (ids[i] not in keys,
                                                          keys.get(ids[i], 0.0), rank[i])),
                    dtype=int)
