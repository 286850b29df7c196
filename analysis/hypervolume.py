"""Hypervolume with a stated reference point, and its growth trial by trial.

The hypervolume of a front is the volume it dominates up to a reference point; points no
better than the reference in some objective add nothing. Default references: 0 for the
sparsity columns, the task's majority-class score for ``score`` (computed with the task's
own metric: :mod:`analysis.baselines`), and the worst value in the data for any other
objective. The notes say where every value not fixed by rule came from.

Two objectives use an exact O(n log n) sweep written here; more use ``moocore`` (an
optional dependency) or, without it, Optuna's WFG implementation.

Example:
    >>> hypervolume(np.array([[-0.5, -0.9], [-0.9, -0.6]]), np.array([0.0, -0.5]))
    0.24
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from typing import NamedTuple

import numpy as np

from analysis import schema
from analysis.errors import AnalysisError
from analysis.pareto import nondominated
from facts.tasks import TASK_FACTS
from facts.tasks import facts_of

#: The score of a uniform random guess, per task; 0 for MCC and correlations (the rule is
#: :attr:`facts.tasks.TaskFacts.chance_score`). Not the hypervolume reference any more (that
#: is the majority-class score, which is higher on skewed tasks and lower where F1 counts:
#: QQP 0.32, MRPC 0.75); kept for callers.
CHANCE_LEVELS: dict[str, float] = {name: facts.chance_score
                                   for name, facts in TASK_FACTS.items()}
SPARSITY_COLUMNS = (schema.WEIGHT_SPARSITY, schema.HEAD_SPARSITY)


class Reference(NamedTuple):
    """A reference point (objective -> value) and a note for every value not by rule."""

    point: dict[str, float]
    notes: tuple[str, ...]


def chance_level(task: Any) -> float | None:
    """The chance-level score of ``task`` (case and punctuation ignored), or None.

    Example:
        >>> chance_level("SST-2"), chance_level("mnli"), chance_level("wnli")
        (0.5, 0.3333333333333333, None)
    """
    facts = facts_of(task)
    return None if facts is None else facts.chance_score


def reference_point(
    points: Any,
    objectives: Mapping[str, str],
    task: Any = None,
    overrides: Mapping[str, float] | None = None,
    majority: Any = None,
) -> Reference:
    """The reference point for one task's points.

    Args:
        points: a DataFrame holding the objective columns (the task's completed trials).
        objectives: column -> ``"max"`` | ``"min"``.
        task: the task name, for its majority-class score.
        overrides: values given by the user; they win over every rule.
        majority: the majority-class score the experiments measured (a
            :class:`analysis.baselines.Baseline`) or recorded (a number) for their evaluation
            set (:func:`analysis.baselines.recorded_majority`); else the table's.

    Returns:
        A :class:`Reference`; its notes say where a value came from (data, table, user).
    """
    from analysis.baselines import recorded_majority

    point: dict[str, float] = {}
    notes: list[str] = []
    for col, direction in objectives.items():
        base = None
        if col == schema.SCORE and direction == "max" and task is not None:
            base = recorded_majority(task, majority)
        if overrides and col in overrides:
            point[col] = float(overrides[col])
            notes.append(f"{col}: {point[col]:.4g} given with --ref")
        elif col in SPARSITY_COLUMNS and direction == "max":
            point[col] = 0.0
        elif base is not None:
            point[col] = base.score
            notes.append(f"{col}: majority-class score {base.score:.4g} ({base.source})")
        else:
            point[col], note = _worst(points, col, direction, task)
            notes.append(note)
    return Reference(point, tuple(notes))


def _worst(points: Any, col: str, direction: str, task: Any) -> tuple[float, str]:
    values = np.asarray(points[col], dtype=float) if len(points) else np.array([])
    values = values[np.isfinite(values)]
    worst = 0.0 if not len(values) else (values.min() if direction == "max" else values.max())
    why = f"task {task!r} has no known majority-class score" if col == schema.SCORE else "no rule"
    word = "minimum" if direction == "max" else "maximum"
    return float(worst), f"{col}: {why}; reference = column {word} {worst:.4g}"


def hypervolume(values: np.ndarray, reference: np.ndarray) -> float:
    """The hypervolume dominated by ``values`` (rows, all minimised) up to ``reference``.

    Rows with a NaN, or not strictly better than the reference in every objective, add
    nothing. Any number of objectives.
    """
    values = np.asarray(values, dtype=float).reshape(-1, len(reference))
    reference = np.asarray(reference, dtype=float)
    if np.isnan(reference).any():
        raise AnalysisError(f"the reference point has a NaN: {reference.tolist()}")
    with np.errstate(invalid="ignore"):
        inside = (values < reference).all(axis=1)
    values = values[inside]
    if not len(values):
        return 0.0
    values = values[nondominated(values)]
    if values.shape[1] == 1:
        return float(reference[0] - values[:, 0].min())
    if values.shape[1] == 2:
        return _hypervolume_2d(values, reference)
    return _hypervolume_nd(values, reference)


def _hypervolume_2d(front: np.ndarray, reference: np.ndarray) -> float:
    # On a front sorted by x the y values fall; each point owns the slab up to the next x.
    front = np.unique(front, axis=0)
    next_x = np.append(front[1:, 0], reference[0])
    return float(np.sum((next_x - front[:, 0]) * (reference[1] - front[:, 1])))


def _hypervolume_nd(front: np.ndarray, reference: np.ndarray) -> float:
    try:
        import moocore
    except ImportError:
        try:
            from optuna._hypervolume import compute_hypervolume
        except ImportError as exc:
            raise AnalysisError(
                "hypervolume over 3 or more objectives needs moocore (pip install moocore) "
                "or optuna"
            ) from exc
        return float(compute_hypervolume(np.unique(front, axis=0), reference))
    return float(moocore.hypervolume(front, ref=reference))


def hypervolume_history(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The hypervolume after each row, in row order (rows all minimised; NaN adds nothing).

    Example:
        >>> hypervolume_history(np.array([[-1.0, -1.0], [np.nan, 0.0], [-2.0, -0.5]]),
        ...                     np.array([0.0, 0.0])).tolist()
        [1.0, 1.0, 1.5]
    """
    values = np.asarray(values, dtype=float)
    reference = np.asarray(reference, dtype=float)
    history = np.zeros(len(values))
    front = np.empty((0, len(reference)))
    current = 0.0
    for i, point in enumerate(values):
        if not np.isnan(point).any() and (point < reference).all() and not _covered(front, point):
            beaten = (point <= front).all(axis=1)
            front = np.vstack([front[~beaten], point])
            current = hypervolume(front, reference)
        history[i] = current
    return history


def _covered(front: np.ndarray, point: np.ndarray) -> bool:
    """Whether some front point is no worse than ``point`` everywhere (it adds no volume)."""
    return bool(len(front)) and bool((front <= point).all(axis=1).any())
