"""``python -m orchestrator``: launch sweeps and look at spaces.

This module only parses and dispatches (:data:`COMMANDS`); each subcommand's body lives in
its own module. ``main(argv)`` is the only error boundary: domain errors become
``error: <message>`` on stderr and a non-zero exit code (traceback only with ``--debug``).
Nothing heavy is imported until a subcommand needs it, so ``--help`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from orchestrator.console import disk_full, one_line, plain_console
from orchestrator.errors import OrchestratorError
from search_spaces.profiles import PROFILES

DEFAULT_STORAGE = "./experiments"


def _add_cluster_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--storage", default=DEFAULT_STORAGE, help="storage root (default: "
                   f"{DEFAULT_STORAGE})")
    p.add_argument("--address", help="join a running Ray cluster: auto or HOST:PORT "
                   "(default: start a local one)")
    p.add_argument("--num-cpus", type=int, help="CPUs of a locally started cluster")
    p.add_argument("--no-dashboard", action="store_true", help="do not start the dashboard")
    p.add_argument("--dashboard-host", default="127.0.0.1",
                   help="interface of the local cluster's dashboard (default: 127.0.0.1; "
                   "anything else exposes a service that runs code for whoever reaches it)")
    p.add_argument("--quiet", action="store_true", help="no per-trial progress lines")
    p.add_argument("--tune-verbose", type=int, default=0, choices=(0, 1, 2),
                   help="Ray Tune's own console tables (default 0: our one-line progress)")


def _add_launch(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("launch", help="start a sweep over a named search space",
                       description="Start a sweep: Optuna proposes, Ray Tune runs, every "
                       "result lands in <storage>/<name>/results/*.parquet.")
    p.add_argument("--space", required=True, help="search space name (see list-spaces)")
    p.add_argument("--profile", default="paper",
                   help=f"{' | '.join(PROFILES)} (default: paper)")
    p.add_argument("--num-samples", type=int, help="number of trials (default: the profile's)")
    p.add_argument("--concurrency", type=int,
                   help="trials running at once (default: what the cluster fits)")
    p.add_argument("--name", help="experiment name (default: <space>-<profile>-<time>)")
    p.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="override a trainable setting (repeatable); pins a searched one")
    p.add_argument("--data-dir", help="local GLUE data: a GLUE root holding parquet/ or "
                   "tsv/, or one layout's folder (HF parquet or GLUE_DATA TSVs)")
    p.add_argument("--model", help="hub id, local folder, or an alias: minilm, tiny")
    p.add_argument("--cpus-per-trial", type=float, default=1.0)
    p.add_argument("--gpus-per-trial", type=float, help="fractions allowed (default: 1 if "
                   "the cluster has GPUs, else 0)")
    p.add_argument("--sampler", help="tpe | nsga2 | nsga3 | gp | random | qmc (default: the "
                   "space's, chosen by the search-efficiency benchmark; list-spaces shows it)")
    p.add_argument("--seed", type=int, help="seed of the Optuna sampler")
    p.add_argument("--warm-start", metavar="EXPERIMENT",
                   help="seed the study with the finished trials of an earlier experiment of "
                   "the same space (a name under --storage, or a folder)")
    p.add_argument("--objectives", metavar="M1,M2",
                   help="replace the space's objectives, e.g. score,speedup or "
                   "score,weight_sparsity,speedup (speedup: measured inference speed-up)")
    p.add_argument("--targets", metavar="S1,S2,...",
                   help="aim every trial at one of these weight_sparsity values (e.g. "
                   "0.5,0.9,0.97); the method's sparsity knob is derived, not searched")
    p.add_argument("--min-sparsity", type=float,
                   help="constraint: trials below this weight_sparsity are infeasible")
    p.add_argument("--time-budget", type=float, metavar="SECONDS",
                   help="stop starting trials after this long; running ones are stopped")
    p.add_argument("--early-stop", dest="early_stop", action="store_true", default=None,
                   help="multi-objective early stopping on (default: the space's, measured "
                   "by the search-efficiency benchmark; show-space shows it)")
    p.add_argument("--no-early-stop", dest="early_stop", action="store_false",
                   help="multi-objective early stopping off")
    p.add_argument("--max-failures", type=int, default=0,
                   help="retries of a failed trial from its last checkpoint")
    p.add_argument("--reuse-actors", dest="reuse_actors", action="store_true", default=None,
                   help="run the next trial in a finished trial's process, saving process "
                   "start and imports (default: on for CPU trials with --no-dashboard; off with GPUs "
                   "and whenever the Ray dashboard runs, which names a process once)")
    p.add_argument("--no-reuse-actors", dest="reuse_actors", action="store_false",
                   help="start every trial in a fresh process")
    p.add_argument("--artifacts-dir",
                   help="shared artifacts (tokenised data, teachers, pruners): default the "
                   "storage root, or each node's cache when --storage is a URI")
    p.add_argument("--dense-baseline", dest="dense_baseline", action="store_true",
                   default=None, help="SMP sweeps: build (or reuse) the dense fine-tune of the "
                   "same model, task and profile first, a shared artifact drawn on every front "
                   "(default: on, except in the smoke profile)")
    p.add_argument("--no-dense-baseline", dest="dense_baseline", action="store_false",
                   help="no dense reference for this sweep")
    p.add_argument("--allow-local-storage", action="store_true",
                   help="accept a local storage path on a multi-node cluster (only if every "
                   "node really sees the same folder)")
    _add_cluster_args(p)
    _add_monitoring_args(p)

def _add_monitoring_args(p: argparse.ArgumentParser) -> None:
    """Learning-curve loggers (issue 14); their own block to keep launch's flags apart."""
    p.add_argument("--log-to", dest="log_to", action="append", metavar="TARGET",
                   help="learning curves per trial: tensorboard (default; event files in "
                   "each trial's folder), mlflow (a local file store in <experiment>/mlruns, "
                   "offline), wandb (needs `wandb login`), none; repeatable or comma-separated")


def _add_experiment_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", metavar="NAME_OR_PATH",
                   help="the experiment: its name under --storage, or its folder's path or "
                   "URI (its parent is then the storage root and --storage is not used)")


def _add_followups(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("resume", help="continue a sweep after Ctrl-C, a crash or a killed "
                       "driver")
    _add_experiment_arg(p)
    p.add_argument("--trust-storage", action="store_true",
                   help="resume even if Tune's state files (which it unpickles) belong to "
                   "another user or are writable by others")
    _add_cluster_args(p)
    p = sub.add_parser("status", help="trials by state, the front so far, time used and left "
                       "(works while the sweep runs)")
    _add_experiment_arg(p)
    p.add_argument("--storage", default=DEFAULT_STORAGE)
    p = sub.add_parser("dashboard", help="serve optuna-dashboard over the sweep's journal")
    _add_experiment_arg(p)
    p.add_argument("--storage", default=DEFAULT_STORAGE)
    p.add_argument("--host", default="127.0.0.1", help="interface (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--allow-writes", action="store_true",
                   help="let the dashboard change the study (notes, deleting it); it has no "
                   "authentication, so anyone reaching the port could (default: read-only)")
    p = sub.add_parser("artifacts", help="list or prune the shared artifacts")
    p.add_argument("action", choices=("list", "prune"))
    p.add_argument("--storage", default=DEFAULT_STORAGE)
    p.add_argument("--artifacts-dir", help="the artifacts folder, if not under --storage")
    p.add_argument("--kind", help="only this kind (tokenized, teacher, smp_pruner, ...)")
    p.add_argument("--older-than-days", type=float,
                   help="prune: only artifacts created longer ago than this")
    p.add_argument("--yes", action="store_true", help="prune without asking")

def _add_confirm(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "confirm", help="re-run chosen trials of an experiment with new seeds (the figures a "
        "paper quotes)",
        description="Re-run the chosen trials of experiment EXP with K new seeds each (every "
        "parameter pinned to the value the trial ran with), as a linked experiment "
        "EXP-confirm that resumes like any sweep (python -m orchestrator resume "
        "EXP-confirm). python -m analysis pareto/table/plot EXP then show each confirmed "
        "trial as the mean over its seeds with a 95% t-interval. An orchestrator command, "
        "not an analysis one: re-running needs the trainables, and the analysis package "
        "imports no sibling package.")
    p.add_argument("experiment", metavar="EXP", help="a finished experiment under --storage")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--front", action="store_true",
                       help="every non-dominated trial (the default; collapsed trials are "
                       "never on a front)")
    which.add_argument("--knee", action="store_true", help="the knee of each front")
    which.add_argument("--targets", metavar="T1,T2,...",
                       help="per target weight_sparsity, the trial `analysis table` shows "
                       "(the best score within 0.01 of it)")
    which.add_argument("--trials", metavar="ID,...",
                       help="these trials (a unique prefix of an id is enough)")
    p.add_argument("--seeds", type=int, required=True, metavar="K",
                   help="new seeds per confirmed trial (>= 1; 3 or more for a 95%% interval)")
    p.add_argument("--full-eval", action="store_true",
                   help="evaluate on the task's whole evaluation split (max_eval_examples "
                   "unset) instead of the rows the search evaluated")
    p.add_argument("--name", dest="confirm_name", metavar="NAME",
                   help="the confirmation's experiment name (default: EXP-confirm)")
    p.add_argument("--concurrency", type=int,
                   help="runs at once (default: what the cluster fits)")
    p.add_argument("--cpus-per-trial", type=float,
                   help="default: what EXP's trials had")
    p.add_argument("--gpus-per-trial", type=float, help="default: what EXP's trials had")
    _add_cluster_args(p)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m orchestrator",
        description="Ray Tune + Optuna sweeps for pruning pre-trained language models "
        "(SMP, CAP), results in Parquet.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_launch(sub)
    _add_followups(sub)
    _add_confirm(sub)
    sub.add_parser("list-spaces", help="list the named search spaces")
    p = sub.add_parser("show-space", help="show a space: settings, ranges, objectives")
    p.add_argument("name")
    p.add_argument("--profile", default="paper")
    return parser


#: Subcommand -> the module and function that run it, imported only when that command runs
#: (so ``--help`` is instant and never imports torch or Ray). Commands never import this
#: module: what they share lives in the modules they import.
COMMANDS = {
    "launch": ("orchestrator.launch", "launch"),
    "resume": ("orchestrator.resume", "resume"),
    "confirm": ("orchestrator.confirm", "confirm"),
    "status": ("orchestrator.status", "status"),
    "dashboard": ("orchestrator.dashboard", "serve"),
    "artifacts": ("orchestrator.artifacts_cli", "artifacts"),
    "list-spaces": ("orchestrator.spaces_cli", "list_spaces"),
    "show-space": ("orchestrator.spaces_cli", "show_space"),
}


def run_command(args: argparse.Namespace) -> int:
    """Import the command's module and run it on the parsed arguments."""
    module, function = COMMANDS[args.command]
    return getattr(importlib.import_module(module), function)(args)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv:  # `python -m orchestrator` alone: the full help, as `python -m analysis`
        parser.print_help()
        return 0
    args = parser.parse_args(argv)
    plain_console()
    try:
        return run_command(args)
    except OrchestratorError as exc:
        if args.debug:
            raise
        from orchestrator.storage import redact

        print(f"error: {redact(one_line(str(exc)))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("\ninterrupted; continue with `python -m orchestrator resume NAME`",
              file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 (only a full disk is turned into one line)
        if args.debug or not disk_full(exc):
            raise
        name = getattr(args, "name", None) or "NAME (the experiment named above)"
        print(f"error: the storage is full ({disk_full(exc)}); rows written so far are kept. "
              f"Free some space, then continue with: python -m orchestrator resume {name}",
              file=sys.stderr)
        return 1
