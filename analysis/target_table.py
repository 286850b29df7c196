"""The paper-style table: the best score at each target sparsity, per task and method.

Papers report pruning as a table at fixed sparsities (CAP on QQP at 50%, 90%, 97%). For each
task, method (or ``--group``) and target, :func:`target_table` takes the completed trials
whose ``weight_sparsity`` is within ``tolerance`` of the target and keeps the best score,
with its trial id, its achieved sparsity, how many trials landed within the tolerance and how
many trials were aimed at that target (``target_sparsity``; 0 for a sweep without targets).
The dense baseline's best score of the task sits beside each row when dense rows are read, and
the CAP teacher's score (the dense model CAP distils from, found as ``analysis pareto`` finds it)
when the caller passes it: a CAP sweep has no dense rows of its own.

Example:
    >>> table = target_table(df, (0.5, 0.9, 0.97), tolerance=0.01)  # doctest: +SKIP
    >>> print(table_markdown(table, 0.01))                          # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from collections.abc import Sequence
from html import escape
from typing import Any

import pandas as pd

from analysis import schema as S
from analysis.errors import AnalysisError
from facts import targets as facts_targets

#: How far from a target a trial may land: the one "landed on the target" tolerance.
DEFAULT_TOLERANCE = facts_targets.HIT_TOLERANCE
COLUMNS = ("task", "group", "target", "best_score", "trial_id", "experiment", "achieved",
           "within", "served", "dense_score", "teacher_score")


def parse_targets(text: str) -> tuple[float, ...]:
    """``"0.5,0.9,0.97"`` -> ``(0.5, 0.9, 0.97)`` (the rule: :func:`facts.targets.parse_targets`,
    which ``launch --targets`` reads too); AnalysisError naming the bad entry and the rule."""
    try:
        return facts_targets.parse_targets(text)
    except ValueError as exc:
        raise AnalysisError(str(exc)) from None


def check_tolerance(tolerance: float) -> float:
    if not (isinstance(tolerance, (int, float)) and 0.0 < tolerance < 1.0):
        raise AnalysisError(f"--tolerance must be in (0, 1) (sparsity units: 0.01 is one "
                            f"point), but got {tolerance}")
    return float(tolerance)


def recorded_targets(df: pd.DataFrame) -> tuple[float, ...]:
    """The targets the rows were aimed at (``launch --targets``), sorted."""
    if S.TARGET_SPARSITY not in df.columns or not len(df):
        return ()
    return tuple(sorted({float(v) for v in df[S.TARGET_SPARSITY].dropna().unique()}))


def target_table(df: pd.DataFrame, targets: Sequence[float],
                 tolerance: float = DEFAULT_TOLERANCE, score: str = S.SCORE,
                 group: str = S.METHOD,
                 teacher_scores: Mapping[str, float] | None = None) -> pd.DataFrame:
    """One row per task, group (not dense) and target; empty cells where no trial landed.

    ``teacher_scores``: {task: the CAP teacher's score}, shown beside the CAP and movement rows
    of that task (the dense model they were distilled from; SMP rows have no teacher).
    """
    teacher_scores = teacher_scores or {}
    final = S.final_rows(df)
    completed = S.completed_final_rows(final)
    rows: list[dict[str, Any]] = []
    if not len(final):
        return pd.DataFrame(columns=list(COLUMNS))
    dense = completed[completed[S.METHOD] == "dense"].groupby(S.TASK)[score].max() \
        if len(completed) else pd.Series(dtype=float)
    pruned = final[final[S.METHOD] != "dense"]
    for (task, label), trials in pruned.groupby([S.TASK, group], sort=True, dropna=False):
        done = S.completed_final_rows(trials)
        done = done[done[score].notna() & done[S.WEIGHT_SPARSITY].notna()]
        aimed = trials[S.TARGET_SPARSITY] if S.TARGET_SPARSITY in trials.columns \
            else pd.Series(dtype=float)
        for target in targets:
            near = done[(done[S.WEIGHT_SPARSITY] - target).abs() <= tolerance + 1e-12]
            best = near.loc[near[score].idxmax()] if len(near) else None
            rows.append({
                "task": task, "group": label, "target": target,
                "best_score": None if best is None else float(best[score]),
                "trial_id": None if best is None else best[S.TRIAL_ID],
                "experiment": None if best is None else best[S.EXPERIMENT],
                "achieved": None if best is None else float(best[S.WEIGHT_SPARSITY]),
                "within": len(near),
                "served": int((aimed.dropna() - target).abs().lt(1e-9).sum()),
                "dense_score": float(dense[task]) if task in dense.index else None,
                "teacher_score": (float(teacher_scores[str(task)])
                                  if _distilled(trials) and str(task) in teacher_scores
                                  else None),
            })
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _distilled(trials: pd.DataFrame) -> bool:
    """Rows of CAP or movement pruning: the methods that train against a dense teacher."""
    methods = trials[S.METHOD].dropna().astype(str)
    return bool(len(methods)) and all(m.startswith("cap") or "movement" in m for m in methods)


def _cell(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table_markdown(table: pd.DataFrame, tolerance: float, group: str = S.METHOD) -> str:
    """The table as Markdown: score (trial, achieved) per target, like a paper's table."""
    head = ["task", group, "target", "best score", "trial", "achieved", "within",
            "served", "dense", "teacher"]
    lines = [f"Best score within {tolerance:g} of each target `weight_sparsity` (completed "
             "trials; `within`: trials that landed there, `served`: trials aimed at it).", "",
             "| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for row in table.itertuples(index=False):
        cells = [row.task, row.group, f"{row.target:g}", _cell(row.best_score),
                 _cell(row.trial_id), _cell(row.achieved), str(row.within), str(row.served),
                 _cell(row.dense_score), _cell(row.teacher_score)]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def table_html(table: pd.DataFrame, tolerance: float) -> str:
    """The same table as an HTML section for ``index.html``."""
    head = "".join(f"<th>{escape(c)}</th>" for c in ("task", "group", "target", "best score",
                                                     "trial", "achieved", "within", "served",
                                                     "dense", "teacher"))
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(_cell(v) if not isinstance(v, int) else str(v))}</td>"
                         for v in (r.task, r.group, r.target, r.best_score, r.trial_id,
                                   r.achieved, r.within, r.served, r.dense_score,
                                   r.teacher_score)) + "</tr>"
        for r in table.itertuples(index=False))
    return (f"<h2>At target sparsities (within {tolerance:g})</h2>"
            f'<div class="scroll"><table><tr>{head}</tr>{body}</table></div>')


def with_html_section(page: str, section: str) -> str:
    """``page`` with ``section`` inserted before its script (or before ``</body>``)."""
    for anchor in ('<div id="tip">', "</body>"):
        at = page.rfind(anchor)
        if at >= 0:
            return page[:at] + section + "\n" + page[at:]
    return page + section
