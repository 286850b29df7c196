"""Render computed fronts as tables: the console view, ``summary.md``, CSV and Parquet.

Everything here takes what :mod:`analysis.fronts` and :mod:`analysis.summary` computed and
returns text or bytes; :func:`write_files` puts bytes in a folder (local or URI).

Example:
    >>> print(console_report(fronts, summary))  # doctest: +SKIP
"""

from __future__ import annotations

import io as _io
from collections.abc import Iterable
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.fs as pafs

from analysis import schema
from analysis.errors import AnalysisError
from analysis.fronts import GROUP
from analysis.fronts import IS_KNEE
from analysis.fronts import ON_TASK_FRONT
from analysis.fronts import TIED_WITH
from analysis.fronts import Fronts
from analysis.io import Location
from analysis.summary import Summary

_FRONT_FIRST = (schema.EXPERIMENT, schema.SPACE, schema.METHOD, schema.TASK, schema.MODEL,
                GROUP, schema.TRIAL_ID, IS_KNEE, ON_TASK_FRONT)
_FRONT_ALSO = (schema.SCORE, schema.SCORE_SE, TIED_WITH, schema.EVAL_EXAMPLES,
               schema.WEIGHT_SPARSITY, schema.HEAD_SPARSITY, schema.ITERATION, schema.STEP)
_EXCLUDED = ("collapsed", "failed", "diverged", "pruned", "nan_objective", "in_progress",
             "other")


def front_table(fronts: Fronts) -> pd.DataFrame:
    """The non-dominated rows as written to ``pareto.csv``: identity, objectives, params.

    ``on_task_front`` says whether the row is also on its task's front across all groups;
    ``score_se`` is the score's standard error and ``tied_with`` names the front neighbours
    it does not beat beyond noise (:func:`analysis.fronts.ties_within_noise`).
    ``param_*`` columns (searched and pinned values alike) that are empty on every front
    row are left out.
    """
    front = fronts.front
    params = [c for c in front.columns
              if c.startswith(schema.PARAM_PREFIX) and front[c].notna().any()]
    cols = list(_FRONT_FIRST) + list(fronts.objectives)
    cols += [c for c in _FRONT_ALSO if c not in cols and c in front.columns] + params
    cols += [c for c in fronts.group_by if c not in cols]
    return front[cols].reset_index(drop=True)


def summary_table(summary: Summary) -> pd.DataFrame:
    """The per-front summary as a flat table (task and group as columns)."""
    return summary.groups.reset_index()


def excluded_line(summary: Summary, fronts: Fronts | None = None) -> str:
    """One sentence with the trials that are not on any front, by reason (collapsed ones
    are named apart when ``--include-collapsed`` kept them as points)."""
    kept = fronts is not None and fronts.include_collapsed
    reasons = [r for r in _EXCLUDED if r in summary.groups and not (kept and r == "collapsed")]
    totals = summary.groups[reasons].sum()
    parts = [f"{int(n)} {name.replace('_', ' ')}" for name, n in totals.items() if n]
    line = "excluded trials: " + (", ".join(parts) if parts else "none")
    collapsed = int(summary.groups["collapsed"].sum()) if "collapsed" in summary.groups else 0
    if kept and collapsed:
        line += f"; {collapsed} collapsed kept as points (--include-collapsed, drawn hollow)"
    return line


def reference_lines(summary: Summary) -> list[str]:
    """One line per task with its reference point, then the notes on data-derived values."""
    lines = []
    for task, ref in summary.references.items():
        values = ", ".join(f"{c}={v:.4g}" for c, v in ref.point.items())
        lines.append(f"reference point ({task}): {values}")
        lines.extend(f"  note: {note}" for note in ref.notes)
    return lines


def baseline_lines(fronts: Fronts, summary: Summary | None = None) -> list[str]:
    """Per task: the dense baseline (best dense value of each objective), then each
    reference score of :attr:`Summary.baselines` with where it came from."""
    lines = [
        f"dense baseline ({task}): "
        + ", ".join(f"{c}={v:.4g}" for c, v in row.items() if pd.notna(v))
        for task, row in fronts.baseline.iterrows()
    ]
    for base in (summary.baselines if summary is not None else ()):
        se = getattr(base, "se", None)
        noise = f" +- {se:.2g}" if se is not None and se == se else ""
        lines.append(f"{base.label} score ({base.task}): {base.score:.4g}{noise}  "
                     f"({base.source})")
    return lines


def baseline_table(summary: Summary) -> pd.DataFrame:
    """The reference scores as a table: task, baseline, score, its standard error where it
    was measured (the dense fine-tune), source."""
    return pd.DataFrame([{schema.TASK: b.task, "baseline": b.label, schema.SCORE: b.score,
                          schema.SCORE_SE: getattr(b, "se", None), "source": b.source}
                         for b in summary.baselines],
                        columns=[schema.TASK, "baseline", schema.SCORE, schema.SCORE_SE,
                                 "source"])


def notes_lines(notes: Sequence[str]) -> list[str]:
    """Free-form notes of a command (budgets that differ, duplicate experiments, ...)."""
    return [f"note: {n}" for n in notes]


def console_report(fronts: Fronts, summary: Summary, header: str = "",
                   notes: Sequence[str] = ()) -> str:
    """The text ``python -m analysis pareto`` prints."""
    objectives = ", ".join(f"{c} {d}" for c, d in fronts.objectives.items())
    groups = summary_table(summary)
    cols = [schema.TASK, GROUP, "trials", "on_front", "completed", *_EXCLUDED, "hypervolume",
            "knee_trial"]
    front = front_table(fronts).drop(columns=[schema.SPACE, schema.MODEL], errors="ignore")
    parts = [header] if header else []
    parts += [
        _text(groups[[c for c in cols if c in groups.columns and _shown(groups[c])]]),
        excluded_line(summary, fronts),
        *reference_lines(summary),
        *baseline_lines(fronts, summary),
        *notes_lines(notes),
        "",
        f"Pareto front ({objectives}; * = knee):",
        _text(_star_knee(front)),
    ]
    return "\n".join(parts) + "\n"


def _shown(column: pd.Series) -> bool:
    # Always show the main counts; hide an exclusion column that is zero everywhere.
    return column.name not in _EXCLUDED or bool((column != 0).any())


def _star_knee(front: pd.DataFrame) -> pd.DataFrame:
    marks = np.where(front[IS_KNEE], "*", "")
    return front.drop(columns=IS_KNEE).assign(knee=marks)


def _text(df: pd.DataFrame) -> str:
    if df.empty:
        return "(none)"
    with pd.option_context("display.width", 200, "display.max_columns", 50,
                           "display.float_format", "{:.4g}".format):
        return df.to_string(index=False)


def markdown_table(df: pd.DataFrame) -> str:
    """A GitHub Markdown table (no third-party formatter needed)."""
    def cell(v: Any) -> str:
        if isinstance(v, (float, np.floating)):
            return "" if np.isnan(v) else f"{v:.4g}"
        return "" if v is None or v is pd.NA else str(v).replace("|", "\\|")

    head = "| " + " | ".join(map(str, df.columns)) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in df.itertuples(False)]
    return "\n".join([head, rule, *body])


def markdown_report(
    fronts: Fronts, summary: Summary, sources: Sequence[str], info: Mapping[str, Any],
    notes: Sequence[str] = (), pinned: str = "",
) -> str:
    """The text of ``summary.md`` (``pinned``: :func:`pinned_line`)."""
    objectives = ", ".join(f"`{c}` ({d})" for c, d in fronts.objectives.items())
    lines = [
        "# Pareto report",
        "",
        "Experiments: " + ", ".join(f"`{s}`" for s in sources),
        f"Objectives: {objectives}. Fronts per {', '.join(fronts.group_by)}.",
    ]
    if "space" in info:
        lines.append(f"Space: `{info['space']}`, profile `{info.get('profile')}`")
    if pinned:
        lines.append(pinned)
    lines += ["", "## Fronts", "", markdown_table(summary_table(summary)), "",
              excluded_line(summary, fronts) + ".", ""]
    lines += [f"- {line.strip()}" for line in reference_lines(summary)
              + baseline_lines(fronts, summary) + notes_lines(notes)]
    if summary.baselines:
        lines += ["", "## Reference scores", "", markdown_table(baseline_table(summary))]
    lines += ["", "## Non-dominated trials", "", markdown_table(_star_knee(front_table(fronts)))]
    return "\n".join(lines) + "\n"


#: ``experiment.json`` overrides that are plumbing, not a pinned hyper-parameter.
_NOT_PINNED = ("storage_root", "data_dir")


def pinned_line(infos: Mapping[str, Mapping[str, Any]]) -> str:
    """The values the user pinned with ``--set`` per experiment (``experiment.json``
    ``overrides``; source -> info), e.g. ``Pinned with --set: `final_lambda=4000```, or ""."""
    parts = []
    for source, info in infos.items():
        overrides = info.get("overrides")
        if not isinstance(overrides, Mapping):
            continue
        shown = ", ".join(f"`{k}={v}`" for k, v in sorted(overrides.items())
                          if k not in _NOT_PINNED)
        if shown:
            parts.append(shown if len(infos) == 1 else f"{source}: {shown}")
    return "Pinned with --set: " + "; ".join(parts) if parts else ""


def csv_bytes(df: pd.DataFrame) -> bytes:
    """``df`` as CSV bytes (no index)."""
    return df.to_csv(index=False).encode("utf-8")


def parquet_bytes(df: pd.DataFrame) -> bytes:
    """``df`` as Parquet bytes (no index)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = _io.BytesIO()
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), sink)
    return sink.getvalue()


def check_output(out: Location, names: Iterable[str]) -> None:
    """Refuse to write through a symlink that leads out of where the output belongs.

    An experiment folder may be shared: whoever planted ``EXP/report -> ~/.ssh`` or
    ``EXP/report/index.html -> ~/.bashrc`` would have the next ``pareto`` overwrite the
    target. The default ``report/`` folder must stay inside its experiment (``out.within``);
    an ``--out`` folder is the user's choice (resolved already), but no file in it may lead
    out of it. Object stores have no symlinks.

    Raises:
        AnalysisError: the folder or a file to be written is such a symlink.
    """
    import os

    if not isinstance(out.filesystem, pafs.LocalFileSystem):
        return
    root = os.path.realpath(out.within or out.path)
    folder = os.path.realpath(out.path)

    def inside(path: str) -> bool:
        return path == root or path.startswith(root.rstrip("/") + "/")

    if not inside(folder):
        raise AnalysisError(f"refusing to write the report: {out.display} is a symlink to "
                            f"{folder}, outside the experiment {out.within}; remove the link "
                            "or pass --out DIR")
    for name in names:
        path = os.path.join(out.path, name)
        if os.path.islink(path) and not inside(os.path.realpath(path)):
            raise AnalysisError(f"refusing to write {out.display}/{name}: it is a symlink to "
                                f"{os.path.realpath(path)}, outside {root}; remove the link")


def write_files(out: Location, files: Mapping[str, bytes]) -> list[str]:
    """Write ``name -> bytes`` into the folder ``out`` (created if needed); return the paths.

    Nothing is written through a symlink leading elsewhere (:func:`check_output`).
    """
    check_output(out, files)
    out.filesystem.create_dir(out.path, recursive=True)
    written = []
    for name, data in files.items():
        path = out.join(name)
        with out.filesystem.open_output_stream(path) as stream:
            stream.write(data)
        written.append(path)
    return written


def history_text(table: pd.DataFrame) -> str:
    """Per experiment and task: the trials that raised the hypervolume, and the final value."""
    parts = []
    for (experiment, task), rows in table.groupby([schema.EXPERIMENT, schema.TASK], sort=True):
        gains = rows[rows["hypervolume"].diff().fillna(rows["hypervolume"]) > 0]
        states = rows["state"].value_counts().to_dict()
        parts += [
            f"{experiment} ({task}): {len(rows)} trials, final hypervolume "
            f"{rows['hypervolume'].iloc[-1]:.4g}; trial states {states}",
            _text(gains[["trial_number", schema.TRIAL_ID, "hypervolume"]]),
            "",
        ]
    return "\n".join(parts) if parts else "(no trials)\n"


def compare_text(result: Any) -> str:
    """The text ``python -m analysis compare`` prints (and writes to ``compare.md``)."""
    from analysis.compare import winner_ranges

    x = next(iter(result.objectives))
    lines = [_text(result.hypervolumes), ""]
    for task, ref in result.references.items():
        lines.append(f"reference point ({task}): "
                     + ", ".join(f"{c}={v:.4g}" for c, v in ref.point.items()))
    if len(result.intervals):
        lines += ["", f"which front is better along {x}:"]
        for task, lo, hi, win in winner_ranges(result.intervals):
            lines.append(f"  {task}: {x} {lo:.4g} .. {hi:.4g}: {win}")
    elif len(result.objectives) > 2:
        lines += ["", "(the along-x view needs exactly two objectives)"]
    return "\n".join(lines) + "\n"
