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

from facts.columns import SCORE, WEIGHT_SPARSITY
from facts.targets import HIT_TOLERANCE

DEFAULT_X = WEIGHT_SPARSITY
DEFAULT_Y = SCORE


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; return the exit code (0 ok, 2 bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "run", None):
        # `python -m analysis` alone: the full help (commands and what they do) on stdout.
        parser.print_help()
        return 2
    from analysis.errors import AnalysisError, redact
    from analysis.schema import SchemaError

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        # A ResourceWarning is another object's unclosed file found by the garbage collector
        # at a random moment (seen: a Ray session file), never about the user's input: it is
        # ignored by Python's defaults and would break the one-line error contract here.
        warnings.simplefilter("ignore", ResourceWarning)
        warnings.showwarning = _show_warning
        try:
            return int(args.run(args))
        except (AnalysisError, SchemaError) as exc:
            if args.debug:
                raise
            # paths and URIs in messages may carry credentials (s3://KEY:SECRET@...)
            print(f"error: {redact(str(exc))}", file=sys.stderr)
            return 2


def _show_warning(message: Any, category: Any, *_: Any, **__: Any) -> None:
    from analysis.errors import redact

    print(f"warning: {redact(str(message))}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with the ``pareto``, ``table``, ``history``, ``compare`` and ``export``
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
    pareto.add_argument("--include-collapsed", action="store_true", help=_COLLAPSED_HELP)
    history = _command(sub, "history", "hypervolume against trials, per experiment", _history)
    history.add_argument("experiments", nargs="+", metavar="EXP")
    history.add_argument("--out", metavar="DIR",
                         help="also write history.csv and history.png there")
    compare = _command(sub, "compare", "which of two fronts dominates where", _compare)
    compare.add_argument("experiments", nargs=2, metavar="EXP")
    compare.add_argument("--out", metavar="DIR", help="also write compare.md and compare.csv")
    compare.add_argument("--include-collapsed", action="store_true", help=_COLLAPSED_HELP)
    export = sub.add_parser(
        "export", help="one trial's model as a stock Hugging Face folder with a model card",
        description="Copy one completed trial's model into a new folder that "
        "AutoModelForSequenceClassification.from_pretrained loads (config, safetensors, "
        "tokenizer, README.md model card). Default: the knee of the task's front.")
    export.set_defaults(run=_export)
    export.add_argument("experiment", metavar="EXP", help="a local experiment folder")
    which = export.add_mutually_exclusive_group()
    which.add_argument("--trial", metavar="ID", help="this trial (a unique prefix is enough)")
    which.add_argument("--knee", action="store_true",
                       help="the knee of the task's front across methods (the default)")
    which.add_argument("--target", type=float, metavar="SPARSITY",
                       help="the best-scoring trial with weight_sparsity >= SPARSITY")
    export.add_argument("--out", required=True, metavar="DIR", help="a new (or empty) folder")
    export.add_argument("--include-collapsed", action="store_true",
                        help="let --knee/--target choose a trial whose score is within noise "
                        "of the majority-class score")
    export.add_argument("--sparse", action="store_true",
                        help="write the sparse serving form (python -m trainables.sparse "
                        "convert) instead of dense tensors with zeros")
    table = sub.add_parser("table", help="best score at each target sparsity, per task and "
                           "method (md + csv)",
                           description="The paper-style table: per task and method, the best "
                           "score among completed trials within --tolerance of each target.")
    table.set_defaults(run=_table)
    table.add_argument("experiments", nargs="+", metavar="EXP")
    table.add_argument("--targets", metavar="S1,S2,...",
                       help="target weight_sparsity values (default: those the sweeps aimed at)")
    table.add_argument("--tolerance", type=float, default=HIT_TOLERANCE,
                       help="how far from a target a trial may land (default "
                            f"{HIT_TOLERANCE:g}: one point)")
    table.add_argument("--group", default="method", metavar="COL",
                       help="column that splits rows within a task (default method)")
    table.add_argument("--out", metavar="DIR",
                       help="where targets.md and targets.csv go (default EXP/report; "
                       "required with several EXPs)")
    for flag in ("--strict", "--all-files", "--latest-only"):
        table.add_argument(flag, action="store_true", help=argparse.SUPPRESS)
    return parser


_COLLAPSED_HELP = ("keep trials whose score is within noise of the majority-class score as "
                   "front points (drawn hollow; by default they are counted, not drawn)")


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


def references_of(
    args: argparse.Namespace, objectives: dict[str, str] | None = None
) -> dict[str, float]:
    """``--ref COL=VALUE`` options as a dict; every COL must be an objective.

    A reference value for a column that is not an objective would be silently unused
    (``--ref scor=0.9``), so it is an error with a did-you-mean.
    """
    import difflib
    import math

    from analysis.errors import AnalysisError

    objectives = objectives if objectives is not None else objectives_of(args)
    refs = {}
    for spec in args.ref:
        name, sep, value = spec.partition("=")
        try:
            refs[name] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise AnalysisError(f"--ref must look like COL=NUMBER, but got {spec!r}")
        if not math.isfinite(refs[name]):
            # An infinite reference makes every hypervolume infinite (and NaN never compares):
            # neither ranks anything, so both are refused here, by name.
            raise AnalysisError(f"--ref {spec}: the reference must be a finite number")
        if name not in objectives:
            close = difflib.get_close_matches(name, list(objectives), n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise AnalysisError(
                f"--ref {spec}: {name!r} is not an objective (objectives: "
                f"{', '.join(objectives)}){hint}")
    return refs


def _load(args: argparse.Namespace) -> Any:
    from analysis.commands import load_each

    return load_each(args)


def _group_by(args: argparse.Namespace) -> tuple[str, ...]:
    return tuple(c.strip() for c in args.group.split(",") if c.strip())


def _pareto(args: argparse.Namespace) -> int:
    from analysis import commands

    objectives = objectives_of(args)
    refs = references_of(args, objectives)  # checked before anything is read
    return commands.pareto(args, _load(args), objectives, refs, _group_by(args))


def _table(args: argparse.Namespace) -> int:
    from analysis import commands

    return commands.target_table(args, _load(args))


def _history(args: argparse.Namespace) -> int:
    from analysis import commands

    objectives = objectives_of(args)
    refs = references_of(args, objectives)
    return commands.history(args, _load(args), objectives, refs)


def _export(args: argparse.Namespace) -> int:
    from analysis import schema
    from analysis.errors import AnalysisError
    from analysis.export import export

    if args.target is not None and not 0.0 <= args.target <= 1.0:
        raise AnalysisError(f"--target {args.target:g} is a weight sparsity: give 0..1")
    row, how = export(args.experiment, args.out, trial=args.trial, knee=args.knee,
                      target=args.target, sparse=args.sparse,
                      include_collapsed=args.include_collapsed)
    print(f"exported trial {row[schema.TRIAL_ID]} ({row[schema.METHOD]}, {row[schema.TASK]}: "
          f"score {row[schema.SCORE]:.4g}, weight sparsity {row[schema.WEIGHT_SPARSITY]:.4g}) "
          f"to {args.out}\n  from {how}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from analysis import commands

    objectives = objectives_of(args)
    return commands.compare(args, objectives, references_of(args, objectives))
