"""The self-contained ``index.html``: inline SVG plots, tables, a few lines of inline JS.

No CDN, no external file: the page works opened from disk, offline. Every trial is one
``<circle class="point">`` with ``data-trial-id``, ``data-group``, ``data-front`` and
``data-knee`` attributes and a ``<title>`` (trial id, objectives, ``param_*`` values) that
the inline script turns into a hover tooltip (browsers without JS show the title).

Example:
    >>> Path("index.html").write_text(pareto_html(fronts, summary, ["exp"]))  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from typing import Any

import numpy as np
import pandas as pd

from analysis import schema
from analysis.fronts import GROUP
from analysis.fronts import IS_KNEE
from analysis.fronts import ON_FRONT
from analysis.fronts import ON_TASK_FRONT
from analysis.fronts import Fronts
from analysis.plot import BASELINE_STYLES
from analysis.plot import group_colors
from analysis.plot import step_where
from analysis.report import baseline_lines
from analysis.report import baseline_table
from analysis.report import notes_lines
from analysis.report import excluded_line
from analysis.report import front_table
from analysis.report import reference_lines
from analysis.report import summary_table
from analysis.summary import Summary
from analysis.summary import report_tasks

W, H = 640, 400
LEFT, RIGHT, TOP, BOTTOM = 64, 150, 28, 48
_TITLE_COLUMNS = (schema.EXPERIMENT, schema.METHOD, schema.SCORE, schema.WEIGHT_SPARSITY,
                  schema.HEAD_SPARSITY, schema.TARGET_SPARSITY)
_CSS = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; font-size: 13px; margin: .5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: right; white-space: nowrap; }
.scroll { overflow-x: auto; }
th { background: #f3f3f3; }
svg.pareto { background: #fff; border: 1px solid #ddd; margin: 0 1em 1em 0; }
svg text { font-size: 11px; fill: #333; }
circle.point { cursor: pointer; stroke: #fff; stroke-width: .5; }
circle.point:hover { stroke: #000; stroke-width: 1.5; }
#tip { position: fixed; display: none; white-space: pre; background: #ffffe8;
       border: 1px solid #999; padding: 4px 6px; font: 12px monospace; pointer-events: none; }
"""
_JS = """
(function () {
  var tip = document.getElementById("tip");
  document.querySelectorAll("circle.point").forEach(function (c) {
    var t = c.querySelector("title");
    if (t) { c.setAttribute("data-tip", t.textContent); t.remove(); }
    c.addEventListener("mouseenter", function () {
      tip.textContent = c.getAttribute("data-tip"); tip.style.display = "block"; });
    c.addEventListener("mousemove", function (e) {
      tip.style.left = (e.clientX + 12) + "px"; tip.style.top = (e.clientY + 12) + "px"; });
    c.addEventListener("mouseleave", function () { tip.style.display = "none"; });
  });
})();
"""


def pareto_html(fronts: Fronts, summary: Summary, sources: Sequence[str],
                notes: Sequence[str] = (), pinned: str = "") -> str:
    """The whole report page as one string (``notes``: the command's notes, ``pinned``: the
    values pinned with ``--set``, shown under the title)."""
    tasks = report_tasks(fronts)  # a task whose trials all collapsed keeps its references
    colors = group_colors(fronts.points[GROUP])
    svgs = [task_svg(fronts, task, colors, summary.baselines) for task in tasks] \
        or ["<p>(no completed trials)</p>"]
    notes = [excluded_line(summary, fronts), *reference_lines(summary),
             *baseline_lines(fronts, summary), *notes_lines(notes)]
    extra = f"<br>{escape(pinned.replace('`', ''))}" if pinned else ""
    objectives = ", ".join(f"{c} ({d})" for c, d in fronts.objectives.items())
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        "<title>Pareto report</title>", f"<style>{_CSS}</style></head><body>",
        "<h1>Pareto report</h1>",
        f"<p>Experiments: {escape(', '.join(map(str, sources)))}<br>Objectives: "
        f"{escape(objectives)}; fronts per {escape(', '.join(fronts.group_by))}.{extra}</p>",
        '<div id="plots">', *svgs, "</div>",
        "<ul>", *(f"<li>{escape(n.strip())}</li>" for n in notes), "</ul>",
        "<h2>Fronts</h2>", f'<div class="scroll">{html_table(summary_table(summary))}</div>',
        *(["<h2>Reference scores</h2>",
           f'<div class="scroll">{html_table(baseline_table(summary))}</div>']
          if summary.baselines else []),
        "<h2>Non-dominated trials</h2>",
        f'<div class="scroll">{html_table(front_table(fronts))}</div>',
        '<div id="tip"></div>', f"<script>{_JS}</script>", "</body></html>",
    ])


def html_table(df: pd.DataFrame) -> str:
    """A plain HTML table with escaped cells and 4 significant digits."""
    def cell(v: Any) -> str:
        if isinstance(v, (float, np.floating)):
            return "" if np.isnan(v) else f"{v:.4g}"
        return "" if v is None or v is pd.NA else escape(str(v))

    head = "".join(f"<th>{escape(str(c))}</th>" for c in df.columns)
    rows = ["<tr>" + "".join(f"<td>{cell(v)}</td>" for v in r) + "</tr>"
            for r in df.itertuples(index=False)]
    return f"<table><tr>{head}</tr>{''.join(rows)}</table>"


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (steps of 1, 2 or 5 times a power of ten) covering [low, high].

    Example:
        >>> nice_ticks(0.0, 0.93)
        [0.0, 0.2, 0.4, 0.6, 0.8]
    """
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.ceil(low / step) * step
    return [round(first + i * step, 12) for i in range(int((high - first) / step + 1e-9) + 1)]


class _Scale:
    """Data -> pixel mapping of one axis, padded by 5% on each side."""

    def __init__(self, values: Sequence[float], pixels: tuple[float, float]) -> None:
        low, high = float(np.nanmin(values)), float(np.nanmax(values))
        pad = (high - low) * 0.05 or max(abs(high) * 0.1, 0.05)
        self.low, self.high, self.pixels = low - pad, high + pad, pixels

    def __call__(self, value: float) -> float:
        a, b = self.pixels
        return round(a + (value - self.low) / (self.high - self.low) * (b - a), 2)


_DASHES = {"--": "5,4", "-.": "8,3,2,3", ":": "2,3"}


def task_svg(fronts: Fronts, task: str, colors: dict[str, str],
             baselines: Sequence[Any] = ()) -> str:
    """One task's plot: points, fronts as step lines (and the front across all groups as a
    grey band), the reference scores as dashed lines, knees, legend."""
    x, y = list(fronts.objectives)[:2]
    points = fronts.points[fronts.points[schema.TASK] == task]
    lines = [(b.score, b.kind, b.label) for b in baselines
             if b.task == str(task)] if y == schema.SCORE else []
    base = fronts.baseline[y].get(task, np.nan) if y in fronts.baseline else np.nan
    if not lines and pd.notna(base):
        lines = [(float(base), "dense", "dense baseline")]
    # no points (every trial collapsed): the references alone, over the unit range
    ys = [*points[y], *(v for v, _, _ in lines)] or [0.0, 1.0]
    xs = [*points[x], *target_values(points, x)] or [0.0, 1.0]
    sx, sy = _Scale(xs, (LEFT, W - RIGHT)), _Scale(ys, (H - BOTTOM, TOP))
    parts = [f'<svg class="pareto" data-task="{escape(str(task))}" width="{W}" height="{H}" '
             f'viewBox="0 0 {W} {H}" xmlns="http://www.w3.org/2000/svg">',
             *_axes(sx, sy, x, y, str(task))]
    if points.empty:  # every trial failed or collapsed: the references alone, said so
        parts.append(f'<text x="{(LEFT + W - RIGHT) / 2}" y="{(TOP + H - BOTTOM) / 2}" '
                     'text-anchor="middle" fill="#777">no completed trials on this front</text>')
    groups = list(points.groupby(GROUP, sort=True))
    all_front = len(groups) > 1 and len(fronts.objectives) == 2
    if all_front:
        parts.append(_task_front(points, fronts, sx, sy))
    for target in target_values(points, x):
        parts.append(f'<line class="target" x1="{sx(target)}" x2="{sx(target)}" y1="{TOP}" '
                     f'y2="{H - BOTTOM}" stroke="#d62728" stroke-dasharray="2,4"/>'
                     # upright along the line, low in the plot: clear of the score labels
                     f'<text transform="translate({sx(target) - 3},{H - BOTTOM - 40}) '
                     f'rotate(-90)" fill="#d62728">target {target:.3g}</text>')
    last_label = -1e9
    for value, kind, label in sorted(lines, key=lambda item: -item[0]):
        color, style = BASELINE_STYLES.get(kind, ("#555", "--"))
        # a label 12 px or less below the previous one goes under its line instead
        text_y = sy(value) - 4 if sy(value) - 4 - last_label > 12 else sy(value) + 12
        last_label = text_y
        parts.append(f'<line class="baseline" data-kind="{escape(kind)}" x1="{LEFT}" '
                     f'x2="{W - RIGHT}" y1="{sy(value)}" y2="{sy(value)}" stroke="{color}" '
                     f'stroke-dasharray="{_DASHES.get(style, "5,4")}"/>'
                     f'<text x="{W - RIGHT - 4}" y="{text_y}" text-anchor="end" '
                     f'fill="{color}">{escape(label)} {value:.4g}</text>')
    for i, (group, rows) in enumerate(groups):
        parts += _group(rows, str(group), colors[str(group)], fronts, sx, sy)
        parts.append(_legend_entry(i, str(group), colors[str(group)]))
    parts.append(_legend_marks(len(groups), [(k, lbl) for _, k, lbl in lines], all_front))
    return "\n".join([*parts, "</svg>"])


def target_values(points: pd.DataFrame, x: str) -> list[float]:
    """The sparsity targets the trials aimed at (``target_sparsity``), when x is sparsity."""
    if x != schema.WEIGHT_SPARSITY or schema.TARGET_SPARSITY not in points:
        return []
    return sorted({float(v) for v in points[schema.TARGET_SPARSITY].dropna()})


def _task_front(points: pd.DataFrame, fronts: Fronts, sx: _Scale, sy: _Scale) -> str:
    x, y = list(fronts.objectives)[:2]
    front = points[points[ON_TASK_FRONT]].sort_values(x)
    path = _step_path(front[x].tolist(), front[y].tolist(), step_where(fronts.objectives[x]))
    d = " ".join(f"{'L' if i else 'M'}{sx(px)},{sy(py)}" for i, (px, py) in enumerate(path))
    return (f'<path class="task-front" d="{d}" fill="none" stroke="#bbb" stroke-width="7" '
            'stroke-opacity="0.6" stroke-linejoin="round"/>')


def _axes(sx: _Scale, sy: _Scale, x: str, y: str, task: str) -> list[str]:
    out = [f'<text x="{LEFT}" y="{TOP - 10}" font-weight="bold">{escape(task)}</text>',
           f'<rect x="{LEFT}" y="{TOP}" width="{W - LEFT - RIGHT}" '
           f'height="{H - TOP - BOTTOM}" fill="none" stroke="#999"/>',
           f'<text x="{(LEFT + W - RIGHT) / 2}" y="{H - 10}" text-anchor="middle">'
           f"{escape(x)}</text>",
           f'<text transform="translate(14,{(TOP + H - BOTTOM) / 2}) rotate(-90)" '
           f'text-anchor="middle">{escape(y)}</text>']
    for t in nice_ticks(sx.low, sx.high):
        out.append(f'<text x="{sx(t)}" y="{H - BOTTOM + 14}" text-anchor="middle">{t:.3g}</text>')
    for t in nice_ticks(sy.low, sy.high):
        out.append(f'<text x="{LEFT - 4}" y="{sy(t) + 4}" text-anchor="end">{t:.3g}</text>'
                   f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{sy(t)}" y2="{sy(t)}" '
                   'stroke="#eee"/>')
    return out


def _group(rows: pd.DataFrame, group: str, color: str, fronts: Fronts,
           sx: _Scale, sy: _Scale) -> list[str]:
    x, y = list(fronts.objectives)[:2]
    front = rows[rows[ON_FRONT]].sort_values(x)
    out = []
    if len(fronts.objectives) == 2 and len(front) > 1:
        path = _step_path(front[x].tolist(), front[y].tolist(), step_where(fronts.objectives[x]))
        d = " ".join(f"{'L' if i else 'M'}{sx(px)},{sy(py)}" for i, (px, py) in enumerate(path))
        out.append(f'<path class="front" data-group="{escape(group)}" d="{d}" fill="none" '
                   f'stroke="{color}" stroke-width="1.5"/>')
    for row in rows.sort_values(ON_FRONT).to_dict("records"):
        out.append(_point(row, group, color, fronts, sx, sy))
    for row in rows[rows[IS_KNEE]].to_dict("records"):
        out.append(f'<circle class="knee-mark" cx="{sx(row[x])}" cy="{sy(row[y])}" r="8" '
                   'fill="none" stroke="#000" stroke-width="1.2" pointer-events="none"/>')
    return out


def _step_path(xs: list[float], ys: list[float], where: str) -> list[tuple[float, float]]:
    path = [(xs[0], ys[0])]
    for px, py in zip(xs[1:], ys[1:]):
        corner = (path[-1][0], py) if where == "pre" else (px, path[-1][1])
        path += [corner, (px, py)]
    return path


def _point(row: dict[str, Any], group: str, color: str, fronts: Fronts,
           sx: _Scale, sy: _Scale) -> str:
    x, y = list(fronts.objectives)[:2]
    on_front, knee = bool(row[ON_FRONT]), bool(row[IS_KNEE])
    return (f'<circle class="point" data-trial-id="{escape(str(row[schema.TRIAL_ID]))}" '
            f'data-group="{escape(group)}" data-front="{int(on_front)}" data-knee="{int(knee)}" '
            f'cx="{sx(row[x])}" cy="{sy(row[y])}" r="{5 if on_front else 4}" fill="{color}" '
            f'fill-opacity="{1.0 if on_front else 0.25}"><title>{escape(_tip(row, fronts))}'
            "</title></circle>")


def _tip(row: dict[str, Any], fronts: Fronts) -> str:
    names = [*fronts.objectives, *(c for c in _TITLE_COLUMNS if c not in fronts.objectives)]
    names += sorted(c for c in row if c.startswith(schema.PARAM_PREFIX))
    lines = [f"trial {row[schema.TRIAL_ID]}" + ("  (knee)" if row[IS_KNEE] else "")]
    for name in names:
        value = row.get(name)
        if value is not None and not (isinstance(value, float) and math.isnan(value)):
            lines.append(f"{name} = {value:.4g}" if isinstance(value, float)
                         else f"{name} = {value}")
    return "\n".join(lines)


def _legend_entry(i: int, group: str, color: str) -> str:
    lx, ly = W - RIGHT + 12, TOP + 14 + 18 * i
    return (f'<circle cx="{lx}" cy="{ly - 4}" r="5" fill="{color}"/>'
            f'<text x="{lx + 10}" y="{ly}">{escape(group)}</text>')


def _legend_marks(i: int, lines: Sequence[tuple[str, str]], all_front: bool) -> str:
    lx, ly = W - RIGHT + 12, TOP + 14 + 18 * i
    out = (f'<circle cx="{lx}" cy="{ly - 4}" r="7" fill="none" stroke="#000"/>'
           f'<text x="{lx + 10}" y="{ly}">knee</text>')
    if all_front:
        ly += 18
        out += (f'<line x1="{lx - 7}" x2="{lx + 5}" y1="{ly - 4}" y2="{ly - 4}" stroke="#bbb" '
                f'stroke-width="7" stroke-opacity="0.6"/>'
                f'<text x="{lx + 10}" y="{ly}">all groups</text>')
    for kind, label in lines:
        ly += 18
        color, style = BASELINE_STYLES.get(kind, ("#555", "--"))
        out += (f'<line x1="{lx - 7}" x2="{lx + 5}" y1="{ly - 4}" y2="{ly - 4}" '
                f'stroke="{color}" stroke-dasharray="{_DASHES.get(style, "5,4")}"/>'
                f'<text x="{lx + 10}" y="{ly}">{escape(label)}</text>')
    return out
