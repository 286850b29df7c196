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
from analysis.fronts import Fronts

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


def pareto_png(fronts: Fronts, targets: Sequence[float] = ()) -> bytes:
    """One panel per task: every group's front as a step line, dominated trials faded,
    the dense baseline as a horizontal line, each knee marked; ``targets`` (sweeps run with
    ``--targets``) as dotted vertical lines."""
    x, y = list(fronts.objectives)[:2]
    tasks = sorted(fronts.points[schema.TASK].unique()) or ["(no completed trials)"]
    colors = group_colors(fronts.points[GROUP])
    fig, axes = _figure(len(tasks))
    for ax, task in zip(axes, tasks):
        points = fronts.points[fronts.points[schema.TASK] == task]
        for i, (group, rows) in enumerate(points.groupby(GROUP, sort=True)):
            _draw_group(ax, rows, str(group), colors[str(group)], fronts, x, y, first=i == 0)
        if task in fronts.baseline.index and pd.notna(fronts.baseline.loc[task, y]):
            ax.axhline(fronts.baseline.loc[task, y], color="0.3", linestyle="--", linewidth=1,
                       label="dense baseline")
        for i, target in enumerate(targets if x == schema.WEIGHT_SPARSITY else ()):
            ax.axvline(target, color="0.5", linestyle=":", linewidth=1,
                       label="target" if i == 0 else "_nolegend_")
        ax.set(title=str(task), xlabel=x, ylabel=y)
        ax.grid(alpha=0.3)
        if len(points):
            ax.legend(fontsize="small")
    return _png(fig)


def _draw_group(ax: Any, rows: pd.DataFrame, group: str, color: str, fronts: Fronts,
                x: str, y: str, first: bool) -> None:
    front = rows[rows[ON_FRONT]].sort_values(x)
    dominated = rows[~rows[ON_FRONT]]
    ax.scatter(dominated[x], dominated[y], color=color, alpha=0.25, s=18, linewidths=0)
    ax.scatter(front[x], front[y], color=color, s=30, zorder=3, label=group)
    if len(fronts.objectives) == 2 and len(front) > 1:
        ax.step(front[x], front[y], where=step_where(fronts.objectives[x]), color=color,
                linewidth=1.5)
    knee = rows[rows[IS_KNEE]]
    ax.scatter(knee[x], knee[y], marker="*", s=220, facecolor="none", edgecolor="black",
               linewidths=1.2, zorder=4, label="knee" if first else "_nolegend_")


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
