"""``dashboard NAME``: optuna-dashboard over the sweep's journal, on 127.0.0.1 by default.

Read-only unless ``--allow-writes``: optuna-dashboard has no authentication, and through a
writable storage anyone reaching the port could delete the study (see
:mod:`orchestrator.read_only_storage`).
"""

from __future__ import annotations

import argparse

from orchestrator.errors import UsageError
from orchestrator.experiment import Experiment


def serve(args: argparse.Namespace) -> int:
    # Before anything is read: a port outside 1..65535 was a traceback from the server.
    if not 1 <= args.port <= 65535:
        raise UsageError(f"--port must be in 1..65535, but got {args.port}")
    experiment = Experiment.find(args.storage, args.name)  # a name or the folder's path
    experiment.load()  # a clear error when experiment.json is damaged
    experiment.sync_journal_down()
    if not experiment.journal.is_file():
        raise UsageError(f"experiment {experiment.name!r} has no optuna.journal yet (no trial has "
                         "started); try again once the sweep runs")
    try:
        from optuna_dashboard import run_server
    except ImportError:
        raise UsageError("optuna-dashboard is not installed: pip install 'prunesweep[dashboard]'"
                         " (or pip install optuna-dashboard)") from None
    from orchestrator.sweep import journal_storage

    from orchestrator.read_only_storage import ReadOnlyStorage

    allow_writes = getattr(args, "allow_writes", False)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: optuna-dashboard will listen on {args.host} without authentication: "
              "anyone who reaches it can read the study"
              + (" and, with --allow-writes, delete or change it" if allow_writes else
                 " (it is served read-only)") + "; restrict the network", flush=True)
    storage = journal_storage(experiment)
    mode = "read-write" if allow_writes else "read-only"
    print(f"optuna-dashboard for {experiment.name} ({mode}): http://{args.host}:{args.port}/ "
          "(Ctrl-C to stop)", flush=True)
    run_server(storage if allow_writes else ReadOnlyStorage(storage, refusal=forbidden),
               host=args.host, port=args.port)
    return 0


def forbidden(message: str) -> Exception:
    """A refused write as the dashboard's server answers it: 403 with the reason in the body.

    optuna-dashboard's API answers every exception but bottle's ``HTTPError`` with HTTP 500
    "internal server error" and leaves the reason in the server's log; an ``HTTPError`` keeps
    its status and its text becomes the answer's ``reason``. The log line stays, for whoever
    runs the server.
    """
    from bottle import HTTPError

    print(f"refused a write: {message}", flush=True)
    return HTTPError(403, message)
