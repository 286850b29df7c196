"""``resume NAME``: continue a sweep after Ctrl-C, a crash or a killed driver.

Tune restores its own state (unfinished trials from their last checkpoint, errored ones
retried), the Optuna study lives on in ``optuna.journal`` and the searcher's pickled state, and
the Parquet writer skips rows whose file already exists, so no row is lost or written twice.
Afterwards :func:`orchestrator.reconcile.reconcile` settles what a killed driver left open.
"""

from __future__ import annotations

import argparse

from analysis.errors import redact  # URIs may hold credentials
from orchestrator.errors import UsageError
from orchestrator.experiment import Experiment
from orchestrator.finish import finish
from orchestrator.launch_options import check_num_cpus
from orchestrator.reconcile import reconcile, trial_ids
from orchestrator.state_check import (
    check_journal_whole,
    check_state_readable,
    check_trainer_states,
)
from orchestrator.trust import check_resume_state


def resume(args: argparse.Namespace) -> int:
    from ray import tune

    from orchestrator.cluster import auth_hint, connect, shutdown_if_started
    from orchestrator.sweep import Resources, make_trainable

    check_num_cpus(args.num_cpus)  # an option needs nothing else: check it first
    experiment = Experiment.find(args.storage, args.name)
    record = experiment.load()
    from orchestrator import driver_lock
    from orchestrator.relocate import check_not_renamed, rebase

    check_not_renamed(experiment, record)
    check_resume_state(experiment.path, is_local=experiment.storage.is_local,
                       display=experiment.storage.display,
                       trust_storage=getattr(args, "trust_storage", False))
    # Before reading any state: a live driver may be writing it (one driver per experiment).
    driver_lock.acquire(experiment, "resume")
    fs = experiment.storage.tune_filesystem
    check_state_readable(experiment.storage, experiment.path, experiment.name)
    experiment.sync_journal_down()
    check_journal_whole(experiment.journal, experiment.name)  # before anything appends to it
    if experiment.storage.is_local:  # a replaced trainer.pt: one line now, not a Ray traceback
        from analysis import schema as S
        from orchestrator.results import read_rows

        rows = read_rows(experiment)
        finals = rows[rows[S.IS_FINAL].fillna(False).astype(bool)] if len(rows) else rows
        check_trainer_states(experiment.path, experiment.name, set(finals[S.TRIAL_ID]))
    if not tune.Tuner.can_restore(experiment.path, storage_filesystem=fs):
        raise UsageError(f"experiment {experiment.name!r} has no Tune state to resume (it stopped "
                         "before its first trial started); launch it again under a new name")
    _check_state_complete(experiment, record)
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
        from orchestrator import dense_reference

        if dense_reference.pending(record):  # the launch stopped while building it
            dense_reference.build_and_record(experiment, record["settings"], resources)
        trainable = make_trainable(record["trainable"], record["space"], resources,
                                   bool(record.get("reuse_actors", False)))
        experiment.sync_journal_down()
        tuner = tune.Tuner.restore(experiment.path, trainable, resume_unfinished=True,
                                   resume_errored=True, storage_filesystem=fs)
        moved_from = rebase(tuner, experiment)  # write only into the folder we were given
        if moved_from:
            print(f"  moved     launched in {moved_from}; continuing in "
                  f"{redact(experiment.uri)}")
        grid = tuner.fit()
        reconcile(experiment, trial_ids(grid, record["space"]))
        experiment.sync_journal_up()
    finally:
        shutdown_if_started(cluster)
        driver_lock.release(experiment)
    return finish(experiment, grid)


def _check_state_complete(experiment: Experiment, record: dict) -> None:
    """Refuse to resume from Tune state that lost a file (see ``check_state_complete``)."""
    from analysis import schema as S
    from orchestrator.results import read_rows
    from orchestrator.state_check import check_state_complete

    df = read_rows(experiment)
    finished = int(df[df[S.IS_FINAL]][S.TRIAL_ID].nunique()) if len(df) else 0
    # A confirmation runs a fixed list of configurations: it has no Optuna study to lose.
    has_study = record.get("confirms") is None
    check_state_complete(experiment.storage, experiment.path, experiment.name,
                         journal_present=experiment.journal.is_file() or not has_study,
                         space=record["space"],
                         trials_with_rows=int(df[S.TRIAL_ID].nunique()) if len(df) else 0,
                         finished_trials=finished, num_samples=record.get("num_samples"))
