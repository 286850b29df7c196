"""``python -m analysis``: Pareto reports, hypervolume history and front comparison.

One error boundary: bad input prints ``error: ...`` on stderr and exits with code 2
(``--debug`` shows the traceback). Warnings (a skipped file) print as ``warning: ...``.
Heavy modules are imported inside the subcommands so that ``--help`` stays instant.

Example:
    $ python -m analysis pareto experiments/cap_soft_sst2 experiments/smp_sst2 --out report
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Callable
from typing import Any

DEFAULT_X = "weight_sparsity"
DEFAULT_Y = "score"


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 ok, 2 bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        parser.print_help(sys.stderr)
        return 2
    from analysis.errors import AnalysisError
    from analysis.schema import SchemaError

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = _show_warning
        try:
            return int(args.run(args))
        except (AnalysisError, SchemaError) as exc:
            if args.debug:
                raise
            print(f"error: {exc}", file=sys.stderr)
            return 2


def _show_warning(message: Any, category: Any, *_: Any, **__: Any) -> None:
    print(f"warning: {message}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with the ``pareto``, ``table``, ``history`` and ``compare``
    subcommands."""
    parser = argparse.ArgumentParser(
        prog="python -m analysis",
        description="Sparsity-score Pareto fronts, hypervolumes and reports from Parquet results.",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    pareto = _command(sub, "pareto", "fronts per group: tables, plot and HTML report", _pareto)
    pareto.add_argument("experiments", nargs="+", metavar="EXP",
                        help="experiment folder or URI (several: SMP and CAP side by side)")
    pareto.add_argument("--out", metavar="DIR",
                        help="report folder (default EXP/report; required with several EXPs)")
    pareto.add_argument("--group", default="method", metavar="COL[,COL]",
                        help="columns that split fronts within a task (default method)")
    pareto.add_argument("--no-plot", action="store_true", help="skip pareto.png and index.html")
    history = _command(sub, "history", "hypervolume against trials, per experiment", _history)
    history.add_argument("experiments", nargs="+", metavar="EXP")
    history.add_argument("--out", metavar="DIR",
                         help="also write history.csv and history.png there")
    compare = _command(sub, "compare", "which of two fronts dominates where", _compare)
    compare.add_argument("experiments", nargs=2, metavar="EXP")
    compare.add_argument("--out", metavar="DIR", help="also write compare.md and compare.csv")
    table = sub.add_parser("table", help="best score at each target sparsity, per task and "
                           "method (md + csv)",
                           description="The paper-style table: per task and method, the best "
                           "score among completed trials within --tolerance of each target.")
    table.set_defaults(run=_table)
    table.add_argument("experiments", nargs="+", metavar="EXP")
    table.add_argument("--targets", metavar="S1,S2,...",
                       help="target weight_sparsity values (default: those the sweeps aimed at)")
    table.add_argument("--tolerance", type=float, default=0.01,
                       help="how far from a target a trial may land (default 0.01: one point)")
    table.add_argument("--group", default="method", metavar="COL",
                       help="column that splits rows within a task (default method)")
    table.add_argument("--out", metavar="DIR",
                       help="where targets.md and targets.csv go (default EXP/report; "
                       "required with several EXPs)")
    for flag in ("--strict", "--all-files", "--latest-only"):
        table.add_argument(flag, action="store_true", help=argparse.SUPPRESS)
    return parser


def _command(
    sub: Any, name: str, text: str, run: Callable[[argparse.Namespace], int]
) -> argparse.ArgumentParser:
    cmd = sub.add_parser(name, help=text, description=text)
    cmd.set_defaults(run=run)
    cmd.add_argument("--x", default=DEFAULT_X, metavar="COL[:max|min]",
                     help=f"objective on the x axis (default {DEFAULT_X}:max)")
    cmd.add_argument("--y", default=DEFAULT_Y, metavar="COL[:max|min]",
                     help=f"objective on the y axis (default {DEFAULT_Y}:max)")
    cmd.add_argument("--objective", action="append", default=[], metavar="COL[:max|min]",
                     help="a further objective for fronts and hypervolume (repeatable)")
    cmd.add_argument("--ref", action="append", default=[], metavar="COL=VALUE",
                     help="reference point value for the hypervolume (repeatable)")
    cmd.add_argument("--strict", action="store_true",
                     help="stop at an unreadable result file instead of skipping it")
    cmd.add_argument("--all-files", action="store_true",
                     help="also read the per-row files that finished trials' consolidated "
                     "files already hold (a full check; slower)")
    cmd.add_argument("--latest-only", action="store_true",
                     help="read only each trial's latest file (enough for fronts; fastest)")
    return cmd


def objectives_of(args: argparse.Namespace) -> dict[str, str]:
    """``--x``, ``--y`` and ``--objective`` as column -> direction (max by default)."""
    from analysis.errors import AnalysisError

    objectives: dict[str, str] = {}
    for spec in [args.x, args.y, *args.objective]:
        name, _, direction = spec.partition(":")
        if name in objectives:
            raise AnalysisError(f"objective {name!r} is given twice")
        objectives[name] = direction or "max"
    return objectives


def references_of(args: argparse.Namespace) -> dict[str, float]:
    """``--ref COL=VALUE`` options as a dict."""
    from analysis.errors import AnalysisError

    refs = {}
    for spec in args.ref:
        name, sep, value = spec.partition("=")
        try:
            refs[name] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise AnalysisError(f"--ref must look like COL=NUMBER, but got {spec!r}")
    return refs


def _load(args: argparse.Namespace) -> Any:
    from analysis.io import read_experiments

    return read_experiments(args.experiments, strict=args.strict,
                            latest_only=args.latest_only, all_files=args.all_files)


def _group_by(args: argparse.Namespace) -> tuple[str, ...]:
    return tuple(c.strip() for c in args.group.split(",") if c.strip())


def _pareto(args: argparse.Namespace) -> int:
    from analysis import commands

    return commands.pareto(args, _load(args), objectives_of(args), references_of(args),
                           _group_by(args))


def _table(args: argparse.Namespace) -> int:
    from analysis import commands

    return commands.target_table(args, _load(args))


def _history(args: argparse.Namespace) -> int:
    from analysis import commands

    return commands.history(args, _load(args), objectives_of(args), references_of(args))


def _compare(args: argparse.Namespace) -> int:
    from analysis import commands

    return commands.compare(args, objectives_of(args), references_of(args))
