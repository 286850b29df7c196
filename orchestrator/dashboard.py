"""``dashboard NAME``: optuna-dashboard over the sweep's journal, on 127.0.0.1 by default."""

from __future__ import annotations

import argparse

from orchestrator.cluster import warn_if_exposed
from orchestrator.errors import UsageError
from orchestrator.experiment import Experiment


def serve(args: argparse.Namespace) -> int:
    experiment = Experiment.at(args.storage, args.name)
    experiment.load()  # a clear error when the experiment does not exist
    experiment.sync_journal_down()
    if not experiment.journal.is_file():
        raise UsageError(f"experiment {args.name!r} has no optuna.journal yet (no trial has "
                         "started); try again once the sweep runs")
    try:
        from optuna_dashboard import run_server
    except ImportError:
        raise UsageError("optuna-dashboard is not installed: pip install 'prunesweep[dashboard]'"
                         " (or pip install optuna-dashboard)") from None
    from orchestrator.sweep import journal_storage

    if args.host not in ("127.0.0.1", "localhost", "::1"):
        warn_if_exposed(args.host)
    print(f"optuna-dashboard for {experiment.name}: http://{args.host}:{args.port}/ "
          "(Ctrl-C to stop)", flush=True)
    run_server(journal_storage(experiment), host=args.host, port=args.port)
    return 0
