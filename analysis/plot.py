"""PNG figures: the Pareto plot (one panel per task) and the hypervolume history.

matplotlib is imported inside the functions (Agg canvas, no pyplot state), so importing
this module costs nothing until a figure is drawn.

Example:
    >>> Path("pareto.png").write_bytes(pareto_png(fronts))  # doctest: +SKIP
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

from analysis import schema
from analysis.fronts import GROUP
from analysis.fronts import IS_KNEE
from analysis.fronts import ON_FRONT
from analysis.fronts import ON_TASK_FRONT
from analysis.fronts import Fronts
from analysis.fronts import collapsed_mask

_PANEL = (5.2, 3.8)  # inches per task panel


def _figure(panels: int) -> tuple[Any, list[Any]]:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - matplotlib is in the report extra
        raise ImportError("plots need matplotlib: pip install 'prunesweep[report]'") from exc
    cols = min(panels, 3)
    rows = math.ceil(panels / cols)
    fig = Figure(figsize=(_PANEL[0] * cols, _PANEL[1] * rows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False).ravel().tolist()
    for ax in axes[panels:]:
        ax.set_visible(False)
    return fig, axes[:panels]


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()


def group_colors(groups: Any) -> dict[str, str]:
    """A stable color per group label (tab10 order, by sorted label)."""
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
               "#7f7f7f", "#bcbd22", "#17becf"]
    return {g: palette[i % len(palette)] for i, g in enumerate(sorted(set(map(str, groups))))}


def step_where(x_direction: str) -> str:
    """The matplotlib ``where`` that draws a front as the edge of the region it dominates."""
    return "pre" if x_direction == "max" else "post"


#: Line style per reference score (:mod:`analysis.baselines` kinds).
BASELINE_STYLES = {"dense": ("#444444", "--"), "teacher": ("#8c564b", "-."),
                   "majority": ("#999999", ":")}


def pareto_png(fronts: Fronts, baselines: Sequence[Any] = (),
               confirmed: pd.DataFrame | None = None) -> bytes:
    """One panel per task: every group's front as a step line, dominated trials faded,
    the front across all groups as a wide grey band (where a task has several groups),
    the reference scores (dense, teacher, majority class) as horizontal lines, the sparsity
    targets (``target_sparsity``) as vertical ones, each knee marked, every score with its
    +- 1 standard error bar (``score_se``) and collapsed trials, when kept, as rings.
    ``baselines``: :class:`analysis.baselines.Baseline` items, drawn when y is ``score``
    (a measured one with a +- se band); otherwise the dense baseline of y is drawn.
    ``confirmed``: :func:`analysis.confirmed.confirmed_table` rows, drawn as diamonds at the
    mean over their seeds with the 95% interval, beside the single-seed search points.
    A task whose trials all collapsed keeps its panel and its reference lines."""
    from analysis.summary import report_tasks

    x, y = list(fronts.objectives)[:2]
    tasks = report_tasks(fronts) or ["(no completed trials)"]
    colors = group_colors(fronts.points[GROUP])
    fig, axes = _figure(len(tasks))
    for ax, task in zip(axes, tasks):
        points = fronts.points[fronts.points[schema.TASK] == task]
        groups = list(points.groupby(GROUP, sort=True))
        if len(groups) > 1 and len(fronts.objectives) == 2:
            task_front = points[points[ON_TASK_FRONT]].sort_values(x)
            ax.step(task_front[x], task_front[y], where=step_where(fronts.objectives[x]),
                    color="0.75", linewidth=6, alpha=0.6, zorder=1,
                    label="front of all groups")
        for i, (group, rows) in enumerate(groups):
            _draw_group(ax, rows, str(group), colors[str(group)], fronts, x, y, first=i == 0)
        lines = [(b.score, b.kind, _baseline_label(b), getattr(b, "se", None))
                 for b in baselines if b.task == str(task)] if y == schema.SCORE else []
        if not lines and task in fronts.baseline.index and pd.notna(fronts.baseline.loc[task, y]):
            lines = [(fronts.baseline.loc[task, y], "dense", "dense baseline", None)]
        for value, kind, label, se in lines:
            color, style = BASELINE_STYLES.get(kind, ("0.3", "--"))
            ax.axhline(value, color=color, linestyle=style, linewidth=1.2, label=label)
            if se is not None and se == se and se > 0:  # the reference's own noise
                ax.axhspan(value - se, value + se, color=color, alpha=0.12, linewidth=0)
        if confirmed is not None and len(confirmed):
            _draw_confirmed(ax, confirmed[confirmed["task"].astype(str) == str(task)], x, y,
                            colors)
        targets = (sorted(set(points[schema.TARGET_SPARSITY].dropna()))
                   if x == schema.WEIGHT_SPARSITY and schema.TARGET_SPARSITY in points else [])
        for i, target in enumerate(targets):
            ax.axvline(target, color="#d62728", linestyle=":", linewidth=1,
                       label="sparsity target" if i == 0 else "_nolegend_")
        ax.set(title=str(task), xlabel=x, ylabel=y)
        ax.grid(alpha=0.3)
        if len(points) or lines:
            ax.legend(fontsize="small")
    return _png(fig)


def _baseline_label(base: Any) -> str:
    se = getattr(base, "se", None)
    noise = f" +- {se:.2g}" if se is not None and se == se else ""
    return f"{base.label} {base.score:.3g}{noise}"


#: The confirmed table's column for each objective it can place a point on.
_CONFIRMED_AXES = {schema.SCORE: ("score_mean", "score_ci95"),
                   schema.WEIGHT_SPARSITY: ("weight_sparsity_mean", None)}


def _draw_confirmed(ax: Any, rows: pd.DataFrame, x: str, y: str,
                    colors: dict[str, str]) -> None:
    """Confirmed trials: the mean over their seeds, with the 95% interval on the score."""
    if x not in _CONFIRMED_AXES or y not in _CONFIRMED_AXES or rows.empty:
        return
    (xm, xci), (ym, yci) = _CONFIRMED_AXES[x], _CONFIRMED_AXES[y]
    rows = rows[rows[xm].notna() & rows[ym].notna()]
    for i, (method, part) in enumerate(rows.groupby("method", dropna=False, sort=True)):
        color = colors.get(str(method), "black")
        ax.errorbar(part[xm], part[ym], yerr=part[yci].fillna(0) if yci else None,
                    xerr=part[xci].fillna(0) if xci else None, fmt="D", markersize=6,
                    markerfacecolor="white", markeredgecolor=color, ecolor=color,
                    elinewidth=1.4, capsize=4, zorder=5,
                    label="confirmed: mean +- 95% CI over seeds" if i == 0 else "_nolegend_")


def _draw_group(ax: Any, rows: pd.DataFrame, group: str, color: str, fronts: Fronts,
                x: str, y: str, first: bool) -> None:
    front = rows[rows[ON_FRONT]].sort_values(x)
    dominated = rows[~rows[ON_FRONT]]
    hollow = collapsed_mask(rows)  # kept only with --include-collapsed: drawn as rings
    _error_bars(ax, rows, x, y, color)
    ax.scatter(dominated[x], dominated[y], color=color, alpha=0.25, s=18, linewidths=0)
    ax.scatter(front[x], front[y], color=color, s=30, zorder=3, label=group)
    rings = rows[hollow]
    if len(rings):
        ax.scatter(rings[x], rings[y], s=40, zorder=4, facecolor="white", edgecolor=color,
                   linewidths=1.2, label="collapsed (at the majority score)" if first
                   else "_nolegend_")
    if len(fronts.objectives) == 2 and len(front) > 1:
        ax.step(front[x], front[y], where=step_where(fronts.objectives[x]), color=color,
                linewidth=1.5)
    knee = rows[rows[IS_KNEE]]
    ax.scatter(knee[x], knee[y], marker="*", s=220, facecolor="none", edgecolor="black",
               linewidths=1.2, zorder=4, label="knee" if first else "_nolegend_")


def _error_bars(ax: Any, rows: pd.DataFrame, x: str, y: str, color: str) -> None:
    """+- one standard error of the score (``score_se``), on whichever axis is the score."""
    if schema.SCORE_SE not in rows or schema.SCORE not in (x, y):
        return
    shown = rows[rows[schema.SCORE_SE].notna()]
    if shown.empty:
        return
    se = shown[schema.SCORE_SE].astype(float)
    ax.errorbar(shown[x], shown[y], yerr=se if y == schema.SCORE else None,
                xerr=se if x == schema.SCORE else None, fmt="none", ecolor=color,
                alpha=0.45, elinewidth=1, capsize=2, zorder=2)


def history_png(table: pd.DataFrame) -> bytes:
    """Hypervolume against trial number, one line per experiment and task."""
    fig, (ax,) = _figure(1)
    for (experiment, task), rows in table.groupby([schema.EXPERIMENT, schema.TASK], sort=True):
        ax.step(rows["trial_number"], rows["hypervolume"], where="post",
                label=f"{experiment} ({task})")
    ax.set(xlabel="trial", ylabel="hypervolume", title="hypervolume history")
    ax.grid(alpha=0.3)
    if len(table):
        ax.legend(fontsize="small")
    return _png(fig)
