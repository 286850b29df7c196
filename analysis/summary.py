"""One row per front: the trial counts, the hypervolume with its reference, and the knee.

Example:
    >>> fronts = pareto_fronts(df)                 # doctest: +SKIP
    >>> summarize(fronts).groups[["hypervolume"]]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
import pandas as pd

from analysis import schema
from analysis.fronts import GROUP
from analysis.fronts import IS_KNEE
from analysis.fronts import ON_FRONT
from analysis.fronts import Fronts
from analysis.hypervolume import Reference
from analysis.hypervolume import hypervolume
from analysis.hypervolume import reference_point
from analysis.pareto import to_minimization


class Summary(NamedTuple):
    """Attributes:
    groups: index (task, group); the count columns, ``hypervolume``, ``knee_trial`` and
        ``knee_<objective>`` for each objective (hypervolume 0 and NaN knee where a group
        has no completed trial).
    references: task -> the :class:`Reference` its hypervolumes use (one per task, so
        the groups of a task are comparable).
    """

    groups: pd.DataFrame
    references: dict[str, Reference]


def task_references(
    fronts: Fronts, overrides: Mapping[str, float] | None = None
) -> dict[str, Reference]:
    """The reference point of every task, from all its completed trials."""
    refs = {}
    for task, points in fronts.points.groupby(schema.TASK, dropna=False):
        refs[str(task)] = reference_point(points, fronts.objectives, task, overrides)
    return refs


def reference_array(reference: Reference, objectives: Mapping[str, str]) -> np.ndarray:
    """The reference point as a minimisation vector aligned with ``objectives``."""
    return np.array(
        [-reference.point[c] if d == "max" else reference.point[c] for c, d in objectives.items()]
    )


def summarize(fronts: Fronts, overrides: Mapping[str, float] | None = None) -> Summary:
    """Hypervolume and knee per (task, group), next to the trial counts.

    Args:
        fronts: what :func:`analysis.fronts.pareto_fronts` returned.
        overrides: reference values that replace the default rules, e.g. ``{"score": 0.8}``.

    Returns:
        A :class:`Summary`.
    """
    refs = task_references(fronts, overrides)
    table = fronts.counts.copy()
    table["hypervolume"] = 0.0
    table["knee_trial"] = pd.Series(pd.NA, index=table.index, dtype=object)
    for col in fronts.objectives:
        table[f"knee_{col}"] = np.nan
    for (task, group), points in fronts.points.groupby([schema.TASK, GROUP], dropna=False):
        key = (task, group)
        ref = reference_array(refs[str(task)], fronts.objectives)
        front = points[points[ON_FRONT]]
        table.loc[key, "hypervolume"] = hypervolume(
            to_minimization(front, fronts.objectives), ref
        )
        knee = points[points[IS_KNEE]].iloc[0]
        table.loc[key, "knee_trial"] = knee[schema.TRIAL_ID]
        for col in fronts.objectives:
            table.loc[key, f"knee_{col}"] = knee[col]
    return Summary(table, refs)
