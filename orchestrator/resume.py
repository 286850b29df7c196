"""``resume NAME``: continue a sweep after Ctrl-C, a crash or a killed driver.

Tune restores its own state (unfinished trials from their last checkpoint, errored ones
retried), the Optuna study lives on in ``optuna.journal`` and the searcher's pickled state, and
the Parquet writer skips rows whose file already exists, so no row is lost or written twice.
Afterwards :func:`orchestrator.reconcile.reconcile` settles what a killed driver left open.
"""

from __future__ import annotations

import argparse

from orchestrator.errors import UsageError
from orchestrator.experiment import Experiment
from orchestrator.finish import finish
from orchestrator.reconcile import reconcile, trial_ids
from orchestrator.state_check import check_state_readable
from orchestrator.trust import check_resume_state


def resume(args: argparse.Namespace) -> int:
    from ray import tune

    from orchestrator.cluster import auth_hint, connect, shutdown_if_started
    from orchestrator.sweep import Resources, make_trainable

    experiment = Experiment.open(args.storage, args.name)
    record = experiment.load()
    check_resume_state(experiment.path, is_local=experiment.storage.is_local,
                       display=experiment.storage.display,
                       trust_storage=getattr(args, "trust_storage", False))
    fs = experiment.storage.tune_filesystem
    check_state_readable(experiment.storage, experiment.path, experiment.name)
    if not tune.Tuner.can_restore(experiment.path, storage_filesystem=fs):
        raise UsageError(f"experiment {args.name!r} has no Tune state to resume (it stopped "
                         "before its first trial started); launch it again under a new name")
    resources = Resources(**record.get("resources", {}))
    from orchestrator.objectives import allow_final_only_metrics  # a --objectives speedup sweep

    allow_final_only_metrics(metric for metric, _ in record.get("objectives", []))
    cluster = connect(args.address or record.get("address"), num_cpus=args.num_cpus,
                      include_dashboard=not args.no_dashboard,
                      dashboard_host=args.dashboard_host)
    try:
        print(f"resuming {experiment.name} ({record['space']}, {record['profile']} profile)")
        if cluster.dashboard_url:
            print(f"  dashboard http://{cluster.dashboard_url}  ({auth_hint()})")
        trainable = make_trainable(record["trainable"], record["space"], resources,
                                   bool(record.get("reuse_actors", False)))
        experiment.sync_journal_down()
        tuner = tune.Tuner.restore(experiment.path, trainable, resume_unfinished=True,
                                   resume_errored=True, storage_filesystem=fs)
        grid = tuner.fit()
        reconcile(experiment, trial_ids(grid, record["space"]))
        experiment.sync_journal_up()
    finally:
        shutdown_if_started(cluster)
    return finish(experiment, grid)
