"""The order in which a sweep proposed its trials: the study's trial numbers, else start times.

Ray Tune's trial ids are random hex (``8f7553d7``), so sorting them says nothing about when a
trial was proposed. The truth is the Optuna study in ``optuna.journal``: every Tune trial is
an Optuna trial whose user attribute ``tune_trial_id`` names it, numbered in the order the
sampler asked for it. Without a journal (a copy of the results only) the next best is each
trial's start time, estimated from its result files: the time the newest file was written
minus the trial's largest ``elapsed_s``. Only when neither is available are the ids used,
and the caller is told so (:attr:`TrialOrder.note`).

The journal is read with Optuna's own ``JournalStorage`` (imported lazily; Optuna is a
dependency of the project) from a private temporary copy, so reading never locks, creates or
changes anything in the experiment folder, and works the same for a URI.

Example:
    >>> order = experiment_trial_order("experiments/cap_soft_qqp-demo")  # doctest: +SKIP
    >>> order.source, order.keys["8f7553d7"]                            # doctest: +SKIP
    ('study', 2)
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from typing import Any
from typing import NamedTuple

import pyarrow.fs as pafs

from analysis import schema
from analysis.io import Location
from analysis.io import resolve
from analysis.layout import JOURNAL
from analysis.layout import RESULTS_DIR
from analysis.layout import ROWS_DIR
from analysis.layout import TUNE_TRIAL_ATTR
from analysis.layout import parse_result_name

STUDY, START_TIME, TRIAL_ID = "study trial number", "start time", "trial id"


class TrialOrder(NamedTuple):
    """How to order one experiment's trials.

    Attributes:
        keys: trial id -> sort key (smaller first); trials not in it come last, by id.
        source: :data:`STUDY`, :data:`START_TIME` or :data:`TRIAL_ID` (no order known).
        note: a sentence for the user when the order is not the study's, else ``""``.
    """

    keys: dict[str, float]
    source: str
    note: str


def study_trial_numbers(location: str | Location) -> dict[str, int] | None:
    """Tune trial id -> the Optuna trial number, from the experiment's ``optuna.journal``.

    Returns None when the folder has no journal or it cannot be read (with a warning).
    Trials of the study without a Tune id (warm-start trials) are left out.
    """
    loc = location if isinstance(location, Location) else resolve(location)
    path = loc.join(JOURNAL)
    if loc.filesystem.get_file_info(path).type != pafs.FileType.File:
        return None
    with tempfile.TemporaryDirectory(prefix="analysis-journal-") as tmp:
        copy = os.path.join(tmp, JOURNAL)
        try:
            with loc.filesystem.open_input_stream(path) as src, open(copy, "wb") as dst:
                shutil.copyfileobj(src, dst)
            return _numbers_from_journal(copy)
        except Exception as exc:  # noqa: BLE001 - any unreadable journal: fall back, say why
            warnings.warn(f"cannot read {loc.display}/{JOURNAL} ({type(exc).__name__}: "
                          f"{exc}); ordering trials by their start time instead", stacklevel=2)
            return None


def _numbers_from_journal(path: str) -> dict[str, int]:
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(path))
    numbers: dict[str, int] = {}
    for study in storage.get_all_studies():
        for trial in storage.get_all_trials(study._study_id, deepcopy=False):
            tune_id = trial.user_attrs.get(TUNE_TRIAL_ATTR)
            if tune_id is not None:
                numbers.setdefault(str(tune_id), trial.number)
    return numbers


def file_start_times(location: str | Location, df: Any) -> dict[str, float] | None:
    """Trial id -> estimated start time (epoch seconds), from the result files' times.

    A trial's newest result file was written when its latest row was reported, ``elapsed_s``
    after the trial started. Files are matched to trials by the writer's file names
    (:func:`analysis.layout.parse_result_name`) anywhere under ``results/``
    and the per-row folder ``_rows/``. Returns None when no file time is known.
    """
    loc = location if isinstance(location, Location) else resolve(location)
    infos = []
    for folder in (RESULTS_DIR, ROWS_DIR):
        selector = pafs.FileSelector(loc.join(folder), recursive=True, allow_not_found=True)
        infos += loc.filesystem.get_file_info(selector)
    newest: dict[str, float] = {}
    for info in infos:
        name = parse_result_name(info.base_name)
        if info.type != pafs.FileType.File or not name or info.mtime is None:
            continue
        newest[name.trial] = max(newest.get(name.trial, 0.0), info.mtime.timestamp())
    if not newest:
        return None
    elapsed = df.groupby(schema.TRIAL_ID)[schema.ELAPSED_S].max().fillna(0.0)
    return {trial: t - float(elapsed.get(trial, 0.0)) for trial, t in newest.items()}


def experiment_trial_order(location: str | Location, df: Any) -> TrialOrder:
    """The proposal order of one experiment's trials (``df``: that experiment's rows).

    The study's trial numbers when the journal names every trial of ``df``; else the
    estimated start times; else the trial ids, with a note saying that order is arbitrary.
    """
    loc = location if isinstance(location, Location) else resolve(location)
    trials = {str(t) for t in df[schema.TRIAL_ID].unique()}
    numbers = study_trial_numbers(loc)
    if numbers is not None and trials <= set(numbers):
        return TrialOrder({t: float(n) for t, n in numbers.items()}, STUDY, "")
    starts = file_start_times(loc, df)
    if starts and trials <= set(starts):
        why = ("its optuna.journal does not name every trial" if numbers is not None
               else "it has no readable optuna.journal")
        return TrialOrder(starts, START_TIME,
                          f"{loc.display}: trials ordered by their estimated start time "
                          f"(from the result files' times), since {why}")
    return TrialOrder({}, TRIAL_ID,
                      f"{loc.display}: no optuna.journal and no file times, so trials are "
                      "ordered by trial id, which is not the order the sweep proposed them")
