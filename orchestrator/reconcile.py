"""Settle the study and the results after a sweep: nothing left RUNNING that is not running.

Three situations leave loose ends that Tune does not tell the searcher or the callbacks about:

- a trial stopped by ``--time-budget`` (Tune stops it without ``on_trial_complete``): its
  Optuna trial is told PRUNED, like an early-stopped one;
- a driver killed between asking Optuna for a trial and Tune's next state snapshot: the Optuna
  trial (and maybe some result rows) belong to no Tune trial of the restored run; they are
  marked failed, saying why;
- a sweep interrupted with Ctrl-C: its running trials are left as they are, for ``resume``.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from analysis import schema as S
from orchestrator.experiment import Experiment

ORPHAN_NOTE = "the driver stopped before Tune recorded this trial"


def trial_ids(grid: Any, space: str) -> list[str]:
    """Tune trial ids of a result grid, from the trial folders (``<space>_<id>``)."""
    return [PurePosixPath(result.path).name.removeprefix(f"{space}_") for result in grid]


def reconcile(experiment: Experiment, tune_trial_ids: list[str]) -> None:
    known = {t for t in tune_trial_ids if t}
    from orchestrator.results import read_rows

    df = read_rows(experiment)
    terminal = {}
    if len(df):
        finals = df[df[S.IS_FINAL]]
        terminal = dict(zip(finals[S.TRIAL_ID], finals[S.STATUS]))
    _settle_study(experiment, known, terminal)
    _close_orphaned_rows(experiment, df, known)


def _settle_study(experiment: Experiment, known: set[str], terminal: dict[str, str]) -> None:
    import optuna

    from analysis.layout import TUNE_TRIAL_ATTR
    from orchestrator.sweep import journal_storage

    if not experiment.journal.is_file():
        return
    storage = journal_storage(experiment)
    try:
        study = optuna.load_study(study_name=experiment.name, storage=storage)
    except KeyError:
        return
    running = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,))
    for trial in running:
        owner = trial.user_attrs.get(TUNE_TRIAL_ATTR)
        if owner not in known:
            storage.set_trial_user_attr(trial._trial_id, "orphaned", ORPHAN_NOTE)
            storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
        elif terminal.get(owner) == S.STATUS_PRUNED:
            storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.PRUNED)
        elif terminal.get(owner) in (S.STATUS_FAILED, S.STATUS_DIVERGED):
            storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)


def _close_orphaned_rows(experiment: Experiment, df: Any, known: set[str]) -> None:
    from orchestrator.results import (
        consolidate_trial, result_file, row_folder, write_rows_atomic,
    )

    storage = experiment.storage
    if df.empty:
        return
    rows_dir = row_folder(storage, experiment.results_dir)
    for trial_id, rows in df.groupby(S.TRIAL_ID):
        if trial_id in known or rows[S.IS_FINAL].any():
            continue
        last = rows.sort_values(S.ITERATION).iloc[-1].to_dict()
        last = {k: (None if _is_nan(v) else v) for k, v in last.items()}
        last.update({S.STATUS: S.STATUS_FAILED, S.IS_FINAL: True,
                     S.ITERATION: int(last[S.ITERATION]) + 1,
                     S.ERROR: f"{ORPHAN_NOTE}; its search point was tried again as another "
                              "trial"})
        path = result_file(rows_dir, str(trial_id), last[S.ITERATION], S.STATUS_FAILED)
        write_rows_atomic(storage, path, [last])
        consolidate_trial(storage, experiment.results_dir, str(trial_id))


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and value != value
