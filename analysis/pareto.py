"""Pareto maths as pure functions: the non-dominated mask, the knee, fronts per group.

Nothing here draws or writes; :mod:`analysis.report` renders what these functions return.

Example:
    >>> import pandas as pd
    >>> df = pd.DataFrame({"weight_sparsity": [0.0, 0.5, 0.5, 0.9], "score": [0.9, 0.8, 0.7, 0.6]})
    >>> pareto_mask(df, {"weight_sparsity": "max", "score": "max"}).tolist()
    [True, True, False, True]
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import numpy as np

from analysis.errors import AnalysisError

DIRECTIONS = ("max", "min")


def check_objectives(objectives: Mapping[str, str], columns: Sequence[str] = ()) -> None:
    """Raise :class:`AnalysisError` for an unknown direction or (given ``columns``) column.

    Example:
        >>> check_objectives({"score": "up"})
        Traceback (most recent call last):
        ...
        analysis.errors.AnalysisError: objective 'score' has direction 'up'; use 'max' or 'min'
    """
    if not objectives:
        raise AnalysisError("at least one objective is needed")
    for name, direction in objectives.items():
        if direction not in DIRECTIONS:
            raise AnalysisError(
                f"objective {name!r} has direction {direction!r}; use 'max' or 'min'"
            )
        if columns and name not in columns:
            import difflib

            close = difflib.get_close_matches(name, list(columns), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise AnalysisError(f"objective column {name!r} is not in the results{hint}")


def to_minimization(data: Any, objectives: Mapping[str, str]) -> np.ndarray:
    """The objective columns as a float array, negated where the direction is ``max``."""
    check_objectives(objectives, list(data.columns))
    values = np.column_stack(
        [np.asarray(data[name], dtype=float) for name in objectives]
    ).reshape(len(data), len(objectives))
    signs = np.array([-1.0 if d == "max" else 1.0 for d in objectives.values()])
    return values * signs


def nondominated(values: np.ndarray) -> np.ndarray:
    """Mask of the rows of ``values`` (all minimised) that no other row dominates.

    Row ``a`` dominates ``b`` when it is no worse in every column and better in one.
    Duplicated non-dominated rows are all kept; rows holding a NaN are never on the front
    and dominate nothing.

    Example:
        >>> nondominated(np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])).tolist()
        [True, True, False, True]
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 2:
        raise ValueError(f"values must be a 2-d array, but got shape {values.shape}")
    mask = np.zeros(len(values), dtype=bool)
    finite = ~np.isnan(values).any(axis=1)
    if not finite.any():
        return mask
    rows = values[finite]
    unique, inverse = np.unique(rows, axis=0, return_inverse=True)
    front = _front_2d(unique) if unique.shape[1] == 2 else _front_nd(unique)
    mask[finite] = front[inverse.reshape(-1)]
    return mask


def _front_2d(unique: np.ndarray) -> np.ndarray:
    """Unique rows, lexsorted by (x, y): on the front iff y beats every smaller x's y.

    The first row (best x, then best y) is always on the front, whatever its y, even an
    infinite one, as in :func:`_front_nd`: nothing is at least as good on x.
    """
    best_before = np.minimum.accumulate(np.concatenate([[np.inf], unique[:-1, 1]]))
    new_x = np.concatenate([[True], unique[1:, 0] != unique[:-1, 0]])
    # Within one x the first (smallest y) row is the only candidate; a row is kept when
    # every row with a smaller x has a larger y.
    beats = unique[:, 1] < best_before
    beats[:1] = True
    return new_x & beats


def _front_nd(unique: np.ndarray) -> np.ndarray:
    """Unique rows, lexsorted: the first remaining row is always non-dominated."""
    on_front = np.zeros(len(unique), dtype=bool)
    index = np.arange(len(unique))
    rest = unique
    while len(index):
        top = rest[0]
        on_front[index[0]] = True
        keep = np.any(rest < top, axis=1)
        index, rest = index[keep], rest[keep]
    return on_front


def pareto_mask(data: Any, objectives: Mapping[str, str]) -> np.ndarray:
    """Mask of the rows of a DataFrame that are Pareto-optimal for ``objectives``.

    Args:
        data: a ``pandas.DataFrame`` holding the objective columns.
        objectives: column -> ``"max"`` or ``"min"``, e.g.
            ``{"weight_sparsity": "max", "score": "max"}``. Any number of objectives.

    Returns:
        A boolean array aligned with the rows. Ties are all kept; NaN rows are False; a row
        with an infinite objective is judged like any other (the same for any number of
        objectives).
    """
    return nondominated(to_minimization(data, objectives))


def knee_index(values: np.ndarray) -> int:
    """Position of the knee among front points (all minimised).

    Each objective is scaled to [0, 1] over the front (1 = best) and the knee is the point
    with the largest sum of its scaled values: the point farthest beyond the plane where
    that sum is 1. In 2-d that line is the chord between the two ends of the front, so the
    knee is the point farthest from the chord. With 3 or more objectives it is the same sum
    rule, not a distance to the plane through the front's extreme points (those need not
    lie on it). An objective that does not vary adds 0; the first of tied points wins
    (:func:`analysis.fronts.pareto_fronts` passes fronts in lexicographic order, so that is
    the point with the best first objective).

    Example:
        >>> knee_index(np.array([[0.0, -0.9], [-0.5, -0.85], [-0.9, -0.5]]))
        1
    """
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        raise ValueError("a knee needs at least one point")
    low, high = values.min(axis=0), values.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    scaled = (high - values) / span
    return int(np.argmax(scaled.sum(axis=1)))
