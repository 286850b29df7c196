"""``resume NAME``: continue a sweep after Ctrl-C, a crash or a killed driver.

Tune restores its own state (unfinished trials from their last checkpoint, errored ones
retried), the Optuna study lives on in ``optuna.journal`` and the searcher's pickled state, and
the Parquet writer skips rows whose file already exists, so no row is lost or written twice.

A driver killed between asking Optuna for a trial and Tune's next state snapshot leaves an
Optuna trial (and possibly result rows) that the restored Tune run knows nothing about;
:func:`reconcile` marks those as failed so the study and the results say what happened.
"""

from __future__ import annotations

import argparse
from typing import Any

from analysis import schema as S
from orchestrator.errors import UsageError
from orchestrator.experiment import Experiment


def _experiment(args: argparse.Namespace) -> Experiment:
    experiment = Experiment.at(args.storage, args.name)
    if not experiment.exists():
        known = sorted(p.parent.name for p in experiment.storage.glob("*/experiment.json"))
        listing = f" Experiments there: {', '.join(known)}" if known else ""
        raise UsageError(f"no experiment {args.name!r} in {experiment.storage}.{listing}")
    return experiment


def resume(args: argparse.Namespace) -> int:
    from ray import tune

    from orchestrator.cluster import auth_hint, connect, shutdown_if_started
    from orchestrator.launch import finish
    from orchestrator.sweep import Resources, make_trainable

    experiment = _experiment(args)
    record = experiment.load()
    if not tune.Tuner.can_restore(str(experiment.path)):
        raise UsageError(f"experiment {args.name!r} has no Tune state to resume (it stopped "
                         "before its first trial started); launch it again under a new name")
    resources = Resources(**record.get("resources", {}))
    cluster = connect(args.address or record.get("address"), num_cpus=args.num_cpus,
                      include_dashboard=not args.no_dashboard,
                      dashboard_host=args.dashboard_host)
    try:
        print(f"resuming {experiment.name} ({record['space']}, {record['profile']} profile)")
        if cluster.dashboard_url:
            print(f"  dashboard http://{cluster.dashboard_url}  ({auth_hint()})")
        trainable = make_trainable(record["trainable"], record["space"], resources)
        tuner = tune.Tuner.restore(str(experiment.path), trainable, resume_unfinished=True,
                                   resume_errored=True)
        grid = tuner.fit()
        reconcile(experiment, record, trial_ids(grid, record["space"]))
    finally:
        shutdown_if_started(cluster)
    return finish(experiment, grid)


def trial_ids(grid: Any, space: str) -> list[str]:
    """Tune trial ids of a result grid, from the trial folders (``<space>_<id>``)."""
    from pathlib import PurePosixPath

    return [PurePosixPath(result.path).name.removeprefix(f"{space}_") for result in grid]


def reconcile(experiment: Experiment, record: dict[str, Any], tune_trial_ids: list) -> None:
    """Mark Optuna trials and result rows that no Tune trial owns any more as failed."""
    known = {t for t in tune_trial_ids if t}
    _fail_orphaned_study_trials(experiment, known)
    _close_orphaned_rows(experiment, record, known)


def _fail_orphaned_study_trials(experiment: Experiment, known: set[str]) -> None:
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    from orchestrator.search import TUNE_TRIAL_ATTR

    storage = JournalStorage(JournalFileBackend(str(experiment.journal)))
    study = optuna.load_study(study_name=experiment.name, storage=storage)
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        owner = trial.user_attrs.get(TUNE_TRIAL_ATTR)
        if owner not in known:
            storage.set_trial_user_attr(trial._trial_id, "orphaned",
                                        "the driver stopped before Tune recorded this trial")
            storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)


def _close_orphaned_rows(experiment: Experiment, record: dict[str, Any], known: set[str]) -> None:
    from orchestrator.results import consolidate_trial, result_file, write_rows_atomic

    df = S.read_results(experiment.path)
    if df.empty:
        return
    for trial_id, rows in df.groupby(S.TRIAL_ID):
        if trial_id in known or rows[S.IS_FINAL].any():
            continue
        last = rows.sort_values(S.ITERATION).iloc[-1].to_dict()
        last = {k: (None if _is_nan(v) else v) for k, v in last.items()}
        last.update({S.STATUS: S.STATUS_FAILED, S.IS_FINAL: True,
                     S.ITERATION: int(last[S.ITERATION]) + 1,
                     S.ERROR: "the driver stopped before Tune recorded this trial; "
                              "its search point was tried again as another trial"})
        path = result_file(experiment.results_dir, str(trial_id), last[S.ITERATION], "-failed")
        write_rows_atomic(path, [last])
        consolidate_trial(experiment.results_dir, str(trial_id))


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and value != value
