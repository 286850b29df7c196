"""From result rows to Pareto fronts per group, with every excluded trial counted.

A trial is judged by one row: its latest (a final row wins a tie on ``iteration``).
Only a final ``completed`` row with finite objectives can enter a front, and by default only
one whose score is not ``collapsed`` (within noise of the majority-class score measured on the
same rows: a constant predictor is not a result). Failed, diverged, pruned and collapsed
trials, completed trials with a NaN objective and trials still running are counted per
group, never dropped silently. Fronts are always per task (scores of two tasks
are not comparable), then per ``group_by`` (e.g. method or experiment).

Example:
    >>> fronts = pareto_fronts(df, {"weight_sparsity": "max", "score": "max"})  # doctest: +SKIP
    >>> fronts.points[fronts.points.on_front]                                    # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import NamedTuple

import numpy as np
import pandas as pd

from analysis import schema
from analysis.errors import AnalysisError
from analysis.pareto import check_objectives
from analysis.pareto import knee_index
from analysis.pareto import nondominated
from analysis.pareto import to_minimization

DEFAULT_OBJECTIVES = {schema.WEIGHT_SPARSITY: "max", schema.SCORE: "max"}
GROUP = "group"  # the label column of a front ("cap-soft", "smp / exp-b", ...)
STATE = "state"
ON_FRONT = "on_front"
IS_KNEE = "is_knee"
#: Front neighbours (same group, next along x) whose score differs by less than the noise:
#: ``|score_a - score_b| <= 2 * sqrt(se_a^2 + se_b^2)``; comma-separated trial ids.
TIED_WITH = "tied_with"
#: On the front of the whole task, across every group (is SMP or CAP better here?).
ON_TASK_FRONT = "on_task_front"
IS_TASK_KNEE = "is_task_knee"
#: The group label of a task's front across all groups in summaries and plots.
ALL_GROUPS = "(all)"
#: The per-group counts, in the order reports show them.
COUNTS = ("trials", "on_front", "completed", "collapsed", "nan_objective", "failed", "diverged",
          "pruned", "in_progress", "other")
_STATE_OF_STATUS = {
    schema.STATUS_FAILED: "failed",
    schema.STATUS_DIVERGED: "diverged",
    schema.STATUS_PRUNED: "pruned",
    schema.STATUS_RUNNING: "in_progress",
}


class Fronts(NamedTuple):
    """What :func:`pareto_fronts` computes; reports only render it.

    Attributes:
        points: one row per completed trial with finite objectives, with the grouping
            columns, ``group``, ``on_front`` and ``is_knee`` (its group's front) and
            ``on_task_front`` and ``is_task_knee`` (the front of its whole task, across
            groups); ordered by task, group, x.
        counts: one row per (task, group): the :data:`COUNTS` columns.
        baseline: per task, the best value of each objective among ``dense`` trials.
        objectives: column -> ``"max"`` | ``"min"``.
        group_by: the columns that split fronts, ``task`` first.
    """

    points: pd.DataFrame
    counts: pd.DataFrame
    baseline: pd.DataFrame
    objectives: dict[str, str]
    group_by: tuple[str, ...]
    #: Collapsed trials were kept as points (``--include-collapsed``); they are still counted.
    include_collapsed: bool = False

    @property
    def front(self) -> pd.DataFrame:
        """The non-dominated rows only."""
        return self.points[self.points[ON_FRONT]]


def trial_order(trial_ids: Any) -> np.ndarray:
    """Positions that sort trial ids naturally (``t2`` before ``t10``).

    Example:
        >>> trial_order(["t10", "t2", "t1"]).tolist()
        [2, 1, 0]
    """
    keys = [_natural_key(str(t)) for t in trial_ids]
    return np.array(sorted(range(len(keys)), key=keys.__getitem__), dtype=int)


def _natural_key(text: str) -> tuple[Any, ...]:
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", text))


def decisive_rows(df: pd.DataFrame) -> pd.DataFrame:
    """One row per (experiment, trial_id): its latest, a final row winning a tie.

    Latest means highest ``iteration``: a trial's final or terminal row comes last, and a
    trial that was marked failed and then resumed is judged by what it did since.
    """
    final = df[schema.IS_FINAL].fillna(False).astype(bool)
    # A trial marked failed and retried by `resume` can report its final row at the very
    # iteration its terminal row took (last + 1): the completed row is the later event.
    done = df[schema.STATUS].astype(object) == schema.STATUS_COMPLETED
    keys = [schema.EXPERIMENT, schema.TRIAL_ID]
    ordered = df.assign(_final=final, _done=done).sort_values(
        [*keys, schema.ITERATION, "_final", "_done", schema.STEP], kind="stable",
        na_position="first")
    return ordered.drop_duplicates(keys, keep="last").drop(columns=["_final", "_done"])


def trial_states(rows: pd.DataFrame, objectives: Mapping[str, str]) -> pd.Series:
    """The state of each decisive row: completed, collapsed, nan_objective, ... (see COUNTS).

    ``collapsed`` comes from the row's recorded flag; rows written before schema 3 have none
    and are judged as before."""
    status = rows[schema.STATUS].astype(object)
    final = rows[schema.IS_FINAL].fillna(False).astype(bool)
    state = status.map(_STATE_OF_STATUS).fillna("other")
    completed = (status == schema.STATUS_COMPLETED).to_numpy()
    state[completed & ~final.to_numpy()] = "in_progress"
    finite = np.isfinite(to_minimization(rows, objectives)).all(axis=1)
    done = completed & final.to_numpy()
    collapsed = collapsed_mask(rows)
    state[done & finite & ~collapsed] = "completed"
    state[done & finite & collapsed] = "collapsed"
    state[done & ~finite] = "nan_objective"
    return state


def collapsed_mask(rows: pd.DataFrame) -> np.ndarray:
    """Which rows carry ``collapsed = True`` (null, and rows before schema 3: False)."""
    if schema.COLLAPSED not in rows:
        return np.zeros(len(rows), dtype=bool)
    return rows[schema.COLLAPSED].astype(object).eq(True).to_numpy()


def pareto_fronts(
    df: pd.DataFrame,
    objectives: Mapping[str, str] | None = None,
    group_by: Sequence[str] = (schema.METHOD,),
    include_collapsed: bool = False,
) -> Fronts:
    """Fronts per task and group, with the knee of each and the trials left out counted.

    Args:
        df: result rows (:func:`analysis.io.read_experiments`).
        objectives: column -> direction; default weight_sparsity and score, both max.
        group_by: columns that split the fronts besides ``task``.
        include_collapsed: keep collapsed trials as points (still counted as collapsed).

    Returns:
        A :class:`Fronts`.
    """
    objectives = dict(objectives or DEFAULT_OBJECTIVES)
    check_objectives(objectives, list(df.columns))
    keys = _group_columns(group_by, df.columns)
    rows = decisive_rows(df)
    rows[schema.TASK] = rows[schema.TASK].astype(object).fillna("?")
    rows = rows.assign(**{STATE: trial_states(rows, objectives).to_numpy()})
    rows[GROUP] = _labels(rows, keys[1:])
    counts = _counts(rows, keys)
    kept = ("completed", "collapsed") if include_collapsed else ("completed",)
    points = rows[rows[STATE].isin(kept)].drop(columns=STATE)
    points = _mark_fronts(points, keys, objectives)
    points[TIED_WITH] = ties_within_noise(points, objectives)
    on_front = points[points[ON_FRONT]].groupby([schema.TASK, GROUP]).size()
    counts["on_front"] = on_front.reindex(counts.index, fill_value=0).astype(int)
    return Fronts(points, counts, dense_baseline(points, objectives), objectives, keys,
                  include_collapsed)


def _group_columns(group_by: Sequence[str], columns: Any) -> tuple[str, ...]:
    keys = [schema.TASK] + [c for c in group_by if c != schema.TASK]
    missing = [c for c in keys if c not in columns]
    if missing:
        raise AnalysisError(f"group column(s) not in the results: {', '.join(missing)}")
    return tuple(keys)


def _labels(rows: pd.DataFrame, keys: Sequence[str]) -> pd.Series:
    if not keys:
        return pd.Series("all", index=rows.index)
    parts = [rows[k].astype(object).where(rows[k].notna(), "?").astype(str) for k in keys]
    label = parts[0]
    for part in parts[1:]:
        label = label + " / " + part
    return label


def _counts(rows: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    table = pd.crosstab([rows[schema.TASK], rows[GROUP]], rows[STATE])
    table = table.reindex(columns=list(COUNTS), fill_value=0)
    table["trials"] = table[[c for c in COUNTS if c not in ("trials", "on_front")]].sum(axis=1)
    table.index.names = [schema.TASK, GROUP]
    return table.astype(int)


def _mark_fronts(
    points: pd.DataFrame, keys: Sequence[str], objectives: Mapping[str, str]
) -> pd.DataFrame:
    points = points.assign(**{ON_FRONT: False, IS_KNEE: False, ON_TASK_FRONT: False,
                              IS_TASK_KNEE: False})
    values = to_minimization(points, objectives)
    for keys_, front_col, knee_col in (([schema.TASK, GROUP], ON_FRONT, IS_KNEE),
                                       ([schema.TASK], ON_TASK_FRONT, IS_TASK_KNEE)):
        on_front = np.zeros(len(points), dtype=bool)
        knee = np.zeros(len(points), dtype=bool)
        for where in points.groupby(keys_, dropna=False, sort=True).indices.values():
            front = where[nondominated(values[where])]
            # lexicographic order (best first objective first) makes ties on the knee stable
            front = front[np.lexsort(values[front].T[::-1])]
            on_front[front] = True
            knee[front[knee_index(values[front])]] = True
        points[front_col] = on_front
        points[knee_col] = knee
    x = next(iter(objectives))
    return points.sort_values([schema.TASK, GROUP, x], kind="stable").reset_index(drop=True)


def ties_within_noise(points: pd.DataFrame, objectives: Mapping[str, str]) -> pd.Series:
    """For each front point, the neighbours on its group's front that its score does not
    beat beyond noise (see :data:`TIED_WITH`); empty where scores or standard errors are
    missing (rows before schema 3) or the score is not an objective."""
    tied = pd.Series("", index=points.index, dtype=object)
    if schema.SCORE not in objectives or schema.SCORE_SE not in points or points.empty:
        return tied
    x = next(c for c in objectives if c != schema.SCORE) if len(objectives) > 1 else schema.SCORE
    front = points[points[ON_FRONT]]
    for _, rows in front.groupby([schema.TASK, GROUP], sort=False):
        rows = rows.sort_values(x, kind="stable")
        ids = rows[schema.TRIAL_ID].astype(str).to_numpy()
        score = rows[schema.SCORE].astype(float).to_numpy()
        se = rows[schema.SCORE_SE].astype(float).to_numpy()
        for i in range(len(rows) - 1):
            noise = 2.0 * np.sqrt(se[i] ** 2 + se[i + 1] ** 2)
            if np.isfinite(noise) and abs(score[i] - score[i + 1]) <= noise:
                for a, b in ((i, i + 1), (i + 1, i)):
                    label = rows.index[a]
                    tied[label] = ",".join(filter(None, [tied[label], ids[b]]))
    return tied


def dense_baseline(points: pd.DataFrame, objectives: Mapping[str, str]) -> pd.DataFrame:
    """Per task, the best value of each objective among completed ``dense`` trials."""
    dense = points[points[schema.METHOD] == "dense"]
    if dense.empty:
        empty = pd.Index([], name=schema.TASK)
        return pd.DataFrame(columns=list(objectives), index=empty, dtype=float)
    grouped = dense.groupby(schema.TASK)
    best = {c: grouped[c].max() if d == "max" else grouped[c].min() for c, d in objectives.items()}
    return pd.DataFrame(best)
