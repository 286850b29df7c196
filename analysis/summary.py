"""One row per front: the trial counts, the hypervolume with its reference, and the knee.

Example:
    >>> fronts = pareto_fronts(df)                 # doctest: +SKIP
    >>> summarize(fronts).groups[["hypervolume"]]  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import NamedTuple

import numpy as np
import pandas as pd

from analysis import schema
from analysis.baselines import DENSE
from analysis.baselines import Baseline
from analysis.baselines import recorded_majority
from analysis.baselines import task_key
from analysis.fronts import ALL_GROUPS
from analysis.fronts import GROUP
from analysis.fronts import IS_KNEE
from analysis.fronts import IS_TASK_KNEE
from analysis.fronts import ON_FRONT
from analysis.fronts import ON_TASK_FRONT
from analysis.fronts import Fronts
from analysis.hypervolume import Reference
from analysis.hypervolume import hypervolume
from analysis.hypervolume import reference_point
from analysis.pareto import to_minimization


class Summary(NamedTuple):
    """Attributes:
    groups: index (task, group); the count columns, ``hypervolume``, ``knee_trial`` and
        ``knee_<objective>`` for each objective (hypervolume 0 and NaN knee where a group
        has no completed trial). A task with several groups also has a row with group
        ``(all)``: the front across all of them.
    references: task -> the :class:`Reference` its hypervolumes use (one per task, so
        the groups of a task are comparable).
    baselines: the reference scores drawn on each task's plot and listed in the tables
        (majority class, CAP teacher, dense fine-tune; :mod:`analysis.baselines`).
    """

    groups: pd.DataFrame
    references: dict[str, Reference]
    baselines: tuple[Baseline, ...] = ()

    def group_rows(self) -> pd.DataFrame:
        """The rows of the groups themselves, without the ``(all)`` rows (for totals)."""
        return self.groups[self.groups.index.get_level_values(GROUP) != ALL_GROUPS]


def task_references(
    fronts: Fronts, overrides: Mapping[str, float] | None = None,
    majority: Mapping[str, Any] | None = None,
) -> dict[str, Reference]:
    """The reference point of every task, from all its completed trials.

    ``majority``: task -> the majority-class score its experiments recorded (else the
    table's, :func:`analysis.baselines.majority_baseline`).
    """
    refs = {}
    for task, points in fronts.points.groupby(schema.TASK, dropna=False):
        refs[str(task)] = reference_point(points, fronts.objectives, task, overrides,
                                          (majority or {}).get(str(task)))
    return refs


def reference_array(reference: Reference, objectives: Mapping[str, str]) -> np.ndarray:
    """The reference point as a minimisation vector aligned with ``objectives``."""
    return np.array(
        [-reference.point[c] if d == "max" else reference.point[c] for c, d in objectives.items()]
    )


def summarize(
    fronts: Fronts,
    overrides: Mapping[str, float] | None = None,
    majority: Mapping[str, Any] | None = None,
    teachers: Sequence[Baseline] = (),
) -> Summary:
    """Hypervolume and knee per (task, group) and per task across groups, with baselines.

    Args:
        fronts: what :func:`analysis.fronts.pareto_fronts` returned.
        overrides: reference values that replace the default rules, e.g. ``{"score": 0.8}``.
        majority: task -> majority-class score recorded by the experiments (optional).
        teachers: CAP teacher baselines found for the experiments (optional).

    Returns:
        A :class:`Summary`.
    """
    refs = task_references(fronts, overrides, majority)
    table = _with_task_rows(fronts.counts)
    table["hypervolume"] = 0.0
    table["knee_trial"] = pd.Series(pd.NA, index=table.index, dtype=object)
    for col in fronts.objectives:
        table[f"knee_{col}"] = np.nan
    parts = [(fronts.points.groupby([schema.TASK, GROUP], dropna=False), ON_FRONT, IS_KNEE)]
    if (table.index.get_level_values(GROUP) == ALL_GROUPS).any():
        parts.append((fronts.points.groupby(schema.TASK, dropna=False), ON_TASK_FRONT,
                      IS_TASK_KNEE))
    for grouped, front_col, knee_col in parts:
        for key, points in grouped:
            key = key if isinstance(key, tuple) and len(key) == 2 else (_first(key), ALL_GROUPS)
            if key not in table.index:
                continue
            ref = reference_array(refs[str(key[0])], fronts.objectives)
            front = points[points[front_col]]
            table.loc[key, "on_front"] = len(front)
            table.loc[key, "hypervolume"] = hypervolume(
                to_minimization(front, fronts.objectives), ref
            )
            knee = points[points[knee_col]].iloc[0]
            table.loc[key, "knee_trial"] = knee[schema.TRIAL_ID]
            for col in fronts.objectives:
                table.loc[key, f"knee_{col}"] = knee[col]
    return Summary(table, refs, task_baselines(fronts, majority, teachers))


def _first(key: object) -> object:
    return key[0] if isinstance(key, tuple) else key


def _with_task_rows(counts: pd.DataFrame) -> pd.DataFrame:
    """The counts with an ``(all)`` row after the groups of every task that has several."""
    pieces = []
    for task, rows in counts.groupby(level=schema.TASK, sort=False):
        pieces.append(rows)
        if len(rows) > 1:
            total = rows.sum().to_frame().T.astype(int)
            total.index = pd.MultiIndex.from_tuples([(task, ALL_GROUPS)],
                                                    names=counts.index.names)
            pieces.append(total)
    return pd.concat(pieces) if pieces else counts.copy()


def task_baselines(
    fronts: Fronts, majority: Mapping[str, float] | None = None,
    teachers: Sequence[Baseline] = (),
) -> tuple[Baseline, ...]:
    """Per task with completed trials: the majority-class, teacher and dense scores."""
    out: list[Baseline] = []
    # Every task with a decisive trial, not only those with points: a sweep whose trials all
    # collapsed has an empty front, and its references are then what the reader needs most.
    for task in report_tasks(fronts):
        base = recorded_majority(task, (majority or {}).get(task))
        if base is not None:
            out.append(base._replace(task=task))
        out += [t._replace(task=task) for t in teachers if task_key(t.task) == task_key(task)]
        if schema.SCORE in fronts.baseline.columns and task in fronts.baseline.index:
            dense = fronts.baseline.loc[task, schema.SCORE]
            if pd.notna(dense):
                out.append(Baseline(task, DENSE, float(dense),
                                    "best completed dense trial of the experiments given"))
    return tuple(out)


def report_tasks(fronts: Fronts) -> list[str]:
    """The tasks a report draws a panel for: those with points or any counted trial."""
    tasks = set(map(str, fronts.points[schema.TASK].dropna().unique()))
    if schema.TASK in fronts.counts.index.names:
        tasks |= set(map(str, fronts.counts.index.get_level_values(schema.TASK).dropna()))
    return sorted(tasks)
