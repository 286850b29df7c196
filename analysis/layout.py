"""The experiment folder's names and the result files' names: written and parsed here only.

The orchestrator writes an experiment folder and the analysis reads it; both take every name
from this module (the analysis owns the contract, as it owns the column names in
:mod:`analysis.schema`, and imports no sibling package)::

    <experiment>/
      experiment.json        INFO_FILE
      results/               RESULTS_DIR: each finished trial's consolidated file
      _rows/                 ROWS_DIR: one file per reported row, as it arrives
      optuna.journal         JOURNAL (each Optuna trial names its Tune trial: TUNE_TRIAL_ATTR)
      report/                REPORT_DIR: what ``python -m analysis pareto`` writes

File names: one file per reported row, ``<trial_id>-it<iteration>[-<status>].parquet``
(:func:`row_file_name`), and once a trial ends one file with all its rows so far,
``<trial_id>-upto<iteration>.parquet`` (:func:`consolidated_file_name`);
:func:`parse_result_name` reads either back.

The per-row files live in ``_rows/`` and each finished trial's consolidated file in
``results/``, so stock readers of ``results/`` (pandas, pyarrow.dataset, duckdb, polars; the
latter two recurse into sub-folders, even ``_``-prefixed ones, so the rows cannot live below
``results/``) read every finished row exactly once. Experiments written before that split
keep both kinds side by side in ``results/``; the readers read either layout.

Only the standard library is imported.

Example:
    >>> row_file_name("a1b2", 3, "failed")
    'a1b2-it000003-failed.parquet'
    >>> parse_result_name("exp/results/a1b2-upto000003.parquet")
    ResultName(trial='a1b2', iteration=3, consolidated=True)
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

INFO_FILE = "experiment.json"
RESULTS_DIR = "results"
ROWS_DIR = "_rows"
JOURNAL = "optuna.journal"
REPORT_DIR = "report"
#: The user attribute that names an Optuna trial's Tune trial (set by the orchestrator's
#: searcher, read to order trials and to reconcile the journal).
TUNE_TRIAL_ATTR = "tune_trial_id"

RESULT_NAME = re.compile(r"^(?P<trial>.+)-it(?P<iteration>\d+)(?:-[a-z]+)?\.parquet$")
CONSOLIDATED_NAME = re.compile(r"^(?P<trial>.+)-upto(?P<iteration>\d+)\.parquet$")


class ResultName(NamedTuple):
    """What a result file's name says: its trial, its (last) iteration, and its kind."""

    trial: str
    iteration: int
    consolidated: bool


def row_file_name(trial_id: str, iteration: int, status: str = "") -> str:
    """The file of one reported row; a trial's terminal row adds its ``status``."""
    return f"{trial_id}-it{iteration:06d}{f'-{status}' if status else ''}.parquet"


def consolidated_file_name(trial_id: str, upto: int) -> str:
    """The file with every row of a trial up to iteration ``upto``, written when it ends."""
    return f"{trial_id}-upto{upto:06d}.parquet"


def row_files_pattern(trial_id: str = "*") -> str:
    """A glob for the per-row files of ``trial_id`` (default: of every trial)."""
    return f"{trial_id}-it*.parquet"


def consolidated_pattern(trial_id: str) -> str:
    """A glob for the consolidated files of ``trial_id``."""
    return f"{trial_id}-upto*.parquet"


def parse_result_name(path: str) -> ResultName | None:
    """The trial and iteration a result file's name (or path) holds; None for other names."""
    name = path.rsplit("/", 1)[-1]
    match = CONSOLIDATED_NAME.match(name)
    if match:
        return ResultName(match["trial"], int(match["iteration"]), True)
    match = RESULT_NAME.match(name)
    return ResultName(match["trial"], int(match["iteration"]), False) if match else None


def collapse_consolidated(paths: Iterable[str]) -> list[str]:
    """Each trial's newest consolidated file plus only its per-row files after it.

    When a trial ends the writer also writes ``<trial_id>-upto<iteration>.parquet`` holding
    every row of that trial so far; its per-row files up to that iteration are then
    redundant. Reading one file per finished trial instead of one per evaluation is what
    keeps reading 100,000 rows fast. Names that follow neither pattern are all kept.

    Example:
        >>> collapse_consolidated(["r/a-it000001.parquet", "r/a-it000002.parquet",
        ...                        "r/a-upto000002.parquet", "r/b-it000001.parquet"])
        ['r/a-upto000002.parquet', 'r/b-it000001.parquet']
    """
    parsed = [(p, parse_result_name(p)) for p in paths]
    upto: dict[str, int] = {}
    for _, name in parsed:
        if name and name.consolidated:
            upto[name.trial] = max(upto.get(name.trial, -1), name.iteration)
    kept = []
    for p, name in parsed:
        if name is None or name.trial not in upto:
            kept.append(p)
        elif name.consolidated:
            if name.iteration == upto[name.trial]:
                kept.append(p)
        elif name.iteration > upto[name.trial]:
            kept.append(p)
    return kept


def rows_behind(consolidated: str, paths: Iterable[str]) -> list[str]:
    """The per-row files a consolidated file stands for: its fallback when it is unreadable.

    A corrupt ``<trial>-upto<N>.parquet`` must not drop its trial: the trial's per-row files
    up to iteration ``N`` (never deleted by the writer) hold the same rows. They sit beside it
    (the old layout) or in the experiment's ``_rows/`` folder (:data:`ROWS_DIR`). Returns
    ``[]`` for a path that is not a consolidated file.

    Example:
        >>> rows_behind("r/a-upto000002.parquet", ["r/a-it000001.parquet",
        ...             "r/a-it000002.parquet", "r/a-upto000002.parquet", "r/b-it000001.parquet"])
        ['r/a-it000001.parquet', 'r/a-it000002.parquet']
    """
    folder = consolidated.rpartition("/")[0]
    target = parse_result_name(consolidated)
    if target is None or not target.consolidated:
        return []
    experiment = folder.rpartition("/")[0]
    folders = {folder, f"{experiment}/{ROWS_DIR}" if experiment else ROWS_DIR}
    behind = []
    for p in paths:
        row = parse_result_name(p)
        if p.rpartition("/")[0] in folders and row and not row.consolidated \
                and row.trial == target.trial and row.iteration <= target.iteration:
            behind.append(p)
    return sorted(behind)


def latest_per_trial(paths: Iterable[str]) -> list[str]:
    """Each trial's files at its highest iteration, by the writer's file names.

    A trial's latest row (its final or terminal row, or the newest running one) sits in the
    files of its highest iteration. Names that do not follow the pattern are all kept.

    Example:
        >>> latest_per_trial(["r/a-it000001.parquet", "r/a-it000002.parquet",
        ...                   "r/a-it000002-failed.parquet", "r/b-it000001.parquet"])
        ['r/a-it000002.parquet', 'r/a-it000002-failed.parquet', 'r/b-it000001.parquet']
    """
    parsed = [(p, parse_result_name(p)) for p in paths]
    newest: dict[str, int] = {}
    for _, name in parsed:
        if name:
            newest[name.trial] = max(newest.get(name.trial, -1), name.iteration)
    return [p for p, name in parsed if not name or name.iteration == newest[name.trial]]
