"""The bodies of the CLI subcommands: compute, then render, then write and print.

Kept apart from :mod:`analysis.cli` so that ``--help`` imports neither pandas nor numpy.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from analysis import report
from analysis.errors import AnalysisError
from analysis.fronts import pareto_fronts
from analysis.io import Location
from analysis.io import experiment_info
from analysis.io import resolve
from analysis.summary import summarize
from analysis.targets import DEFAULT_TOLERANCE
from analysis.targets import recorded_targets
from analysis.targets import table_html
from analysis.targets import table_markdown
from analysis.targets import target_table as targets_table
from analysis.targets import with_html_section

REPORT_DIR = "report"


def report_location(experiments: Sequence[str], out: str | None, command: str) -> Location:
    """Where a command writes: ``--out``, else the single experiment's ``report/``.

    With several experiments ``--out`` is required: a joint report should not overwrite
    the first experiment's own report.
    """
    if out:
        return resolve(out)
    if len(experiments) > 1:
        raise AnalysisError(f"{command} over several experiments needs --out DIR")
    loc = resolve(experiments[0])
    return Location(loc.filesystem, loc.join(REPORT_DIR), f"{experiments[0]}/{REPORT_DIR}")


def pareto(
    args: argparse.Namespace,
    df: Any,
    objectives: Mapping[str, str],
    refs: Mapping[str, float],
    group_by: Sequence[str],
) -> int:
    """Fronts per task and group: print them and write the report files."""
    out = report_location(args.experiments, args.out, "pareto")
    fronts = pareto_fronts(df, objectives, group_by)
    summary = summarize(fronts, refs)
    info = experiment_info(args.experiments[0]) if len(args.experiments) == 1 else {}
    files = {
        "pareto.parquet": report.parquet_bytes(report.front_table(fronts)),
        "pareto.csv": report.csv_bytes(report.front_table(fronts)),
        "summary.md": report.markdown_report(fronts, summary, args.experiments, info).encode(),
    }
    targets = recorded_targets(df)  # sweeps run with --targets: their table joins the report
    if targets:
        table = targets_table(df, targets)
        files["summary.md"] += ("\n## At target sparsities\n\n"
                                + table_markdown(table, DEFAULT_TOLERANCE)).encode()
    if not args.no_plot:
        files.update(_figures(fronts, summary, args.experiments, targets))
        if targets:
            page = files["index.html"].decode("utf-8")
            files["index.html"] = with_html_section(
                page, table_html(table, DEFAULT_TOLERANCE)).encode("utf-8")
    header = (f"{len(args.experiments)} experiment(s), "
              f"{int(summary.groups['trials'].sum())} trials; {read_note(df)}")
    print(report.console_report(fronts, summary, header=header), end="")
    written = report.write_files(out, files)
    print(f"wrote {len(written)} files to {out.display}")
    return 0


def _figures(fronts: Any, summary: Any, sources: Sequence[str],
             targets: Sequence[float] = ()) -> dict[str, bytes]:
    from analysis import html
    from analysis import plot

    return {
        "pareto.png": plot.pareto_png(fronts, targets=targets),
        "index.html": html.pareto_html(fronts, summary, sources).encode("utf-8"),
    }


def target_table(args: argparse.Namespace, df: Any) -> int:
    """``table``: the best score at each target, printed and written as md and csv."""
    from analysis.targets import check_tolerance, parse_targets

    tolerance = check_tolerance(args.tolerance)
    targets = parse_targets(args.targets) if args.targets is not None else recorded_targets(df)
    if not targets:
        raise AnalysisError("no --targets given and the experiments were not run with "
                            "--targets; pass e.g. --targets 0.5,0.9,0.97")
    out = report_location(args.experiments, args.out, "table")
    table = targets_table(df, targets, tolerance, group=args.group)
    text = table_markdown(table, tolerance, args.group)
    print(text, end="")
    written = report.write_files(out, {"targets.md": text.encode(),
                                       "targets.csv": report.csv_bytes(table)})
    print(f"wrote {len(written)} files to {out.display}")
    return 0


def history(
    args: argparse.Namespace, df: Any, objectives: Mapping[str, str], refs: Mapping[str, float]
) -> int:
    """Hypervolume after each trial, per experiment and task."""
    from analysis.history import history_frame

    table = history_frame(df, objectives, refs)
    print(report.history_text(table), end="")
    if args.out:
        from analysis import plot

        files = {"history.csv": report.csv_bytes(table), "history.png": plot.history_png(table)}
        written = report.write_files(resolve(args.out), files)
        print(f"wrote {len(written)} files to {args.out}")
    return 0


def compare(
    args: argparse.Namespace, objectives: Mapping[str, str], refs: Mapping[str, float]
) -> int:
    """Which of two experiments' fronts dominates where, and the hypervolume of each."""
    from analysis.compare import compare_experiments
    from analysis.io import read_experiment

    a, b = (read_experiment(e, strict=args.strict, latest_only=args.latest_only,
                            all_files=args.all_files)
            for e in args.experiments)
    result = compare_experiments(a, b, objectives, refs, labels=compare_labels(args.experiments))
    text = "".join(f"{k} = {v}\n" for k, v in zip("AB", args.experiments))
    text += report.compare_text(result)
    print(text, end="")
    if args.out:
        files = {"compare.md": text.encode(), "compare.csv": report.csv_bytes(result.intervals)}
        written = report.write_files(resolve(args.out), files)
        print(f"wrote {len(written)} files to {args.out}")
    return 0


def compare_labels(experiments: Sequence[str]) -> tuple[str, str]:
    """Short labels for two experiments: folder names, or the full text if they clash."""
    names = tuple(str(e).rstrip("/").rsplit("/", 1)[-1] for e in experiments)
    return (names[0], names[1]) if names[0] != names[1] else (experiments[0], experiments[1])


def read_note(df: Any) -> str:
    """How many result files were read, e.g. ``read 40 of 2,000 result files (...)``."""
    read, total = df.attrs.get("files_read"), df.attrs.get("files_total")
    if read is None or read == total:
        return f"read {len(df):,} result rows"
    return (f"read {len(df):,} result rows from {read:,} of {total:,} files (finished "
            "trials' consolidated files; --all-files reads every file)")
