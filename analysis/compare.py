"""Compare the fronts of two experiments: hypervolume of each, and which wins where.

Per task both fronts share one reference point. ``covers_other`` is the coverage metric
C(A, B): the fraction of B's front points that some point of A's front weakly dominates.
For two objectives the x axis is cut at every front point; on each piece the front that
reaches the better y (with x at least as good) wins.

Example:
    >>> result = compare_experiments(df_a, df_b, labels=("cap", "smp"))  # doctest: +SKIP
    >>> result.intervals[["x_from", "x_to", "winner"]]                   # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from analysis import schema
from analysis.fronts import DEFAULT_OBJECTIVES
from analysis.fronts import GROUP
from analysis.fronts import pareto_fronts
from analysis.hypervolume import Reference
from analysis.pareto import to_minimization
from analysis.summary import reference_array
from analysis.summary import summarize

SIDE = "_side"


class Comparison(NamedTuple):
    """Attributes:
    hypervolumes: task, experiment, hypervolume, front_size, covers_other.
    intervals: task, x_from, x_to, best_a, best_b, winner (two objectives only).
    references: task -> the shared :class:`Reference`.
    labels: the two experiment labels.
    objectives: column -> direction.
    """

    hypervolumes: pd.DataFrame
    intervals: pd.DataFrame
    references: dict[str, Reference]
    labels: tuple[str, str]
    objectives: dict[str, str]


def compare_experiments(
    a: pd.DataFrame,
    b: pd.DataFrame,
    objectives: Mapping[str, str] | None = None,
    overrides: Mapping[str, float] | None = None,
    labels: Sequence[str] = ("A", "B"),
    include_collapsed: bool = False,
) -> Comparison:
    """Compare experiment ``a``'s fronts with ``b``'s, task by task (collapsed trials left
    out unless ``include_collapsed``)."""
    objectives = dict(objectives or DEFAULT_OBJECTIVES)
    label_a, label_b = (str(x) for x in labels)
    # The label doubles as the experiment name, so that two copies of one experiment
    # (same name, same trial ids) stay apart.
    sides = [df.assign(**{SIDE: label, schema.EXPERIMENT: label})
             for df, label in ((a, label_a), (b, label_b))]
    both = pd.concat(sides, ignore_index=True, sort=False)
    fronts = pareto_fronts(both, objectives, group_by=(SIDE,),
                           include_collapsed=include_collapsed)
    summary = summarize(fronts, overrides)
    hv_rows, pieces = [], []
    for task in sorted(fronts.points[schema.TASK].unique()):
        front = fronts.front[fronts.front[schema.TASK] == task]
        fa = to_minimization(front[front[GROUP] == label_a], objectives)
        fb = to_minimization(front[front[GROUP] == label_b], objectives)
        for label, mine, other in ((label_a, fa, fb), (label_b, fb, fa)):
            hv = summary.groups.loc[(task, label), "hypervolume"] if len(mine) else 0.0
            hv_rows.append({schema.TASK: task, "experiment": label, "hypervolume": hv,
                            "front_size": len(mine), "covers_other": coverage(mine, other)})
        if len(objectives) == 2:
            ref = reference_array(summary.references[str(task)], objectives)
            pieces.append(_intervals(task, fa, fb, ref, objectives, (label_a, label_b)))
    intervals = pd.concat(pieces, ignore_index=True) if pieces else _empty_intervals()
    return Comparison(pd.DataFrame(hv_rows), intervals, summary.references,
                      (label_a, label_b), objectives)


def coverage(mine: np.ndarray, other: np.ndarray) -> float:
    """Fraction of ``other``'s rows weakly dominated by a row of ``mine`` (all minimised).

    Example:
        >>> coverage(np.array([[0.0, 0.0]]), np.array([[1.0, 0.0], [-1.0, 2.0]]))
        0.5
    """
    if not len(other):
        return float("nan")
    if not len(mine):
        return 0.0
    covered = (mine[:, None, :] <= other[None, :, :]).all(axis=2).any(axis=0)
    return float(covered.mean())


def best_beyond(front: np.ndarray, x: np.ndarray) -> np.ndarray:
    """For each ``x``: the best (lowest) y of front points with x-value <= ``x``; inf if none.

    Both columns minimised, so "x-value <= x" means "at least as good on x".
    """
    best = np.full(len(x), np.inf)
    for px, py in front:
        best = np.where(px <= x, np.minimum(best, py), best)
    return best


def _intervals(task: str, fa: np.ndarray, fb: np.ndarray, ref: np.ndarray,
               objectives: Mapping[str, str], labels: tuple[str, str]) -> pd.DataFrame:
    cuts = np.unique(np.concatenate([fa[:, 0], fb[:, 0]]))[::-1]  # from worst x to best
    starts = np.concatenate([[max(ref[0], cuts[0])], cuts[:-1]])
    ya, yb = best_beyond(fa, cuts), best_beyond(fb, cuts)
    winner = np.where(ya < yb, labels[0], np.where(yb < ya, labels[1], "tie")).astype(object)
    winner[np.isinf(ya) & np.isinf(yb)] = "none"
    xsign, ysign = (-1.0 if d == "max" else 1.0 for d in objectives.values())
    keep = starts != cuts
    keep[0] = True
    return pd.DataFrame({
        schema.TASK: task, "x_from": xsign * starts + 0.0, "x_to": xsign * cuts + 0.0,
        "best_a": _finite(ysign * ya), "best_b": _finite(ysign * yb), "winner": winner,
    })[keep].reset_index(drop=True)


def _finite(values: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(values), values, np.nan)


def _empty_intervals() -> pd.DataFrame:
    return pd.DataFrame(columns=[schema.TASK, "x_from", "x_to", "best_a", "best_b", "winner"])


def winner_ranges(intervals: pd.DataFrame) -> list[tuple[str, float, float, str]]:
    """Adjacent intervals with the same winner merged: (task, x_from, x_to, winner)."""
    ranges: list[tuple[str, float, float, str]] = []
    for row in intervals.itertuples(index=False):
        task, lo, hi, win = row[0], row.x_from, row.x_to, row.winner
        if ranges and ranges[-1][0] == task and ranges[-1][3] == win:
            ranges[-1] = (task, ranges[-1][1], hi, win)
        else:
            ranges.append((task, lo, hi, win))
    return ranges
