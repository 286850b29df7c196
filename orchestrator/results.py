"""A Ray Tune callback that writes every reported result to Parquet as it arrives.

One file per (trial, iteration): ``<experiment>/_rows/<trial_id>-it<iteration>.parquet``
(named by :mod:`analysis.layout`, which also parses the names), written to a temporary name
and renamed into place, never rewritten. The file name is the row's key,
so a result that Tune reports again after a restore (a trial resumed from an older
checkpoint) is recognised and not written twice. A trial that ends without a final row (it
failed, diverged, or was stopped early) gets one terminal row saying so, with its last
metrics and the error. Once a trial ends, all its rows go into one consolidated file in
``results/``: stock readers of ``results/`` (``pd.read_parquet(EXP/results)``,
pyarrow.dataset, duckdb, polars) read each finished row once. (``_rows`` is beside
``results/``, not in it: duckdb and polars read sub-folders too, ``_``-prefixed or not.) The per-row files are kept (append-only; a reader can fall back to
them). Experiments written before that split (per-row files directly in ``results/``) keep
their layout when resumed, so a re-reported row is still recognised.

The callback lives in the driver; it holds only plain values so Tune can pickle it with its
state (the filesystem is reopened after a restore).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ray.tune import Callback
from ray.tune import result as tune_result

from analysis import layout
from analysis import schema as S
from facts.columns import unknown_report_keys
from orchestrator.storage import Storage, open_storage

if TYPE_CHECKING:
    from orchestrator.experiment import Experiment

#: The class name a trainable's divergence error carries in the text Tune records
#: (``trainables.finetune.TrialDivergedError``; a test keeps the two equal). The one place
#: that turns a trial's error into its terminal status: :func:`error_status`.
DIVERGED_ERROR = "TrialDivergedError"


def error_status(error: str) -> str:
    """``diverged`` for a trial whose loss became NaN/inf, else ``failed``."""
    return S.STATUS_DIVERGED if DIVERGED_ERROR in error else S.STATUS_FAILED


def result_file(rows_dir: str, trial_id: str, iteration: int, status: str = "") -> str:
    """The per-row file of one reported row, in the experiment's rows folder."""
    return f"{rows_dir}/{layout.row_file_name(trial_id, iteration, status)}"


def consolidated_file(results_dir: str, trial_id: str, upto: int) -> str:
    """All rows of a trial up to iteration ``upto``, written once the trial ends."""
    return f"{results_dir}/{layout.consolidated_file_name(trial_id, upto)}"


def rows_dir_of(results_dir: str) -> str:
    """``<experiment>/_rows``: where the per-row files of the current layout go."""
    return f"{results_dir.rstrip('/').rsplit('/', 1)[0]}/{layout.ROWS_DIR}"


def is_legacy_layout(storage: Storage, results_dir: str) -> bool:
    """True for an experiment written before the ``_rows`` split (per-row files in results/).

    Such an experiment keeps writing its per-row files where they are, so that a row Tune
    reports again after a restore finds its existing file and is not written twice.
    """
    return bool(storage.list_names(results_dir, layout.row_files_pattern()))


def row_folder(storage: Storage, results_dir: str) -> str:
    """Where this experiment's per-row files go (see :func:`is_legacy_layout`)."""
    return results_dir if is_legacy_layout(storage, results_dir) else rows_dir_of(results_dir)


def _parquet_bytes(table: Any) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


def consolidate_trial(storage: Storage, results_dir: str, trial_id: str) -> str | None:
    """Write one file with every row of a finished trial (its per-row files stay).

    Readers take a trial's newest consolidated file instead of its per-row files (one file
    per trial instead of one per evaluation: reading 100,000 rows stays fast). Nothing is
    rewritten or deleted: a trial that runs again later gets a newer consolidated file, and
    the older one moves into ``_rows/`` so that stock readers of ``results/`` still
    see each row once.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    paths = [f"{folder}/{n}" for folder in (results_dir, rows_dir_of(results_dir))
             for n in storage.list_names(folder, layout.row_files_pattern(trial_id))]
    if not paths:
        return None
    tables = [pq.read_table(p, filesystem=storage.fs) for p in paths]
    table = pa.concat_tables(tables, promote_options="permissive")
    table = table.sort_by([(S.ITERATION, "ascending")])
    upto = max(table.column(S.ITERATION).to_pylist())
    path = consolidated_file(results_dir, trial_id, upto)
    storage.write_bytes(path, _parquet_bytes(table), exclusive=True)
    _retire_older_consolidated(storage, results_dir, trial_id, path)
    return path


def _retire_older_consolidated(storage: Storage, results_dir: str, trial_id: str,
                               newest: str) -> None:
    """Move a trial's superseded consolidated files from results/ into _rows/."""
    older = [n for n in storage.list_names(results_dir, layout.consolidated_pattern(trial_id))
             if f"{results_dir}/{n}" != newest]
    if not older:
        return
    storage.makedirs(rows_dir_of(results_dir))
    for name in older:  # a rename on a POSIX folder; copy + delete on an object store
        storage.fs.move(f"{results_dir}/{name}", f"{rows_dir_of(results_dir)}/{name}")


def read_rows(experiment: Experiment) -> Any:
    """Every result row of an experiment (an empty frame with the columns when none yet)."""
    from analysis.io import read_results

    return read_results(experiment.uri)


#: Where Tune names the checkpoint folder reported with a result (one of its AUTO_RESULT_KEYS).
CHECKPOINT_DIR_NAME = "checkpoint_dir_name"
#: Keys Ray Tune adds to every result a trainable reports (its bookkeeping, not ours).
TUNE_KEYS = frozenset({
    CHECKPOINT_DIR_NAME, *tune_result.AUTO_RESULT_KEYS, *tune_result.DEBUG_METRICS,
    tune_result.DONE, tune_result.EXPERIMENT_TAG, tune_result.SHOULD_CHECKPOINT,
    tune_result.RESULT_DUPLICATE, tune_result.TRIAL_INFO,
})


class UnknownReportKeyError(ValueError):
    """A trainable reported a key that is neither a result column nor a declared extra."""


def check_report_keys(result: Mapping[str, Any]) -> None:
    """Refuse a result with a key nobody declared: it would be dropped from the row silently.

    Raises:
        UnknownReportKeyError: naming every such key and where keys are declared.
    """
    unknown = unknown_report_keys(k for k in result if k not in TUNE_KEYS)
    if unknown:
        raise UnknownReportKeyError(
            f"the trainable reported {', '.join(map(repr, unknown))}, neither a result column "
            "nor a declared extra (facts.columns: COLUMN_TYPES, REPORT_EXTRAS); a misspelt "
            "key would be dropped from the row, so it is refused")


def build_row(
    result: Mapping[str, Any],
    config: Mapping[str, Any],
    identity: Mapping[str, Any],
    searched: Sequence[str],
    trial_id: str,
) -> dict[str, Any]:
    """One schema row from a Tune result dict and the trial's config.

    Raises:
        UnknownReportKeyError: the result holds a key that is neither a column nor a
            declared extra (:func:`check_report_keys`).
    """
    check_report_keys(result)
    row: dict[str, Any] = {column: result.get(column) for column in S.METRIC_COLUMNS}
    row.update(identity)
    row[S.TRIAL_ID] = trial_id
    row[S.ITERATION] = int(result.get(tune_result.TRAINING_ITERATION, 0))
    row[S.METHOD] = result.get(S.METHOD)
    # the config's task, model and seed are the trainable's settings of the same name
    row[S.TASK] = result.get(S.TASK, config.get(S.TASK))
    row[S.MODEL] = result.get(S.MODEL, config.get(S.MODEL))
    row[S.SEED] = result.get(S.SEED, config.get(S.SEED))
    row[S.IS_FINAL] = bool(result.get(S.IS_FINAL, False))
    row[S.STATUS] = S.STATUS_COMPLETED if row[S.IS_FINAL] else S.STATUS_RUNNING
    for name in searched:
        row[S.param_column(name)] = config.get(name)
    # --targets: what the trial was aimed at and what the map or calibration predicted.
    row[S.TARGET_SPARSITY] = config.get(S.TARGET_SPARSITY)
    row[S.PREDICTED_SPARSITY] = config.get(S.PREDICTED_SPARSITY)
    return row


def write_rows_atomic(storage: Storage, path: str, rows: Sequence[Mapping[str, Any]]) -> bool:
    """Write ``rows`` to ``path`` unless it exists (a row is never written twice)."""
    return storage.write_bytes(path, _parquet_bytes(S.rows_to_table(rows)), exclusive=True)


class ParquetResultsCallback(Callback):
    """Writes result rows under ``<experiment>/_rows`` and ``<experiment>/results``.

    The console lines are :class:`orchestrator.progress.ConsoleProgress`'s.
    """

    def __init__(self, storage: str, results_dir: str, identity: Mapping[str, Any],
                 searched: Sequence[str], objectives: Sequence[str], num_samples: int,
                 quiet: bool = False, journal_mirror: Any = None) -> None:
        self.storage_text = storage
        self.results_dir = results_dir
        self.rows_dir = rows_dir_of(results_dir)  # a new experiment: the _rows layout
        self.identity = dict(identity)
        self.searched = list(searched)
        self.objectives = list(objectives)
        self.num_samples = num_samples
        self.quiet = quiet
        self.rows_written = 0
        self.journal_mirror = journal_mirror  # an Experiment whose journal to mirror, or None
        self._storage: Storage | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_storage"] = None  # filesystems are reopened after a restore
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        # A callback pickled by an older version (no rows_dir) belongs to an experiment of
        # the old layout: its per-row files stay in results/.
        state.setdefault("rows_dir", state["results_dir"])
        self.__dict__.update(state)

    @property
    def storage(self) -> Storage:
        if self._storage is None:
            self._storage = open_storage(self.storage_text)
        return self._storage

    def rebase(self, storage_text: str, results_dir: str, journal_mirror: Any) -> None:
        """Write into the experiment folder ``resume`` was given, wherever the experiment
        was launched (the pickled callback holds the paths of that time; see
        :mod:`orchestrator.relocate`)."""
        legacy = self.rows_dir == self.results_dir  # an old layout stays an old layout
        self.storage_text, self.results_dir = storage_text, results_dir
        self.rows_dir = results_dir if legacy else rows_dir_of(results_dir)
        self.journal_mirror = journal_mirror
        self._storage = None

    def setup(self, **info: Any) -> None:
        # Tune installed its SIGINT handler just before calling setup: record interrupts.
        from orchestrator.interrupts import watch

        watch()
        self.storage.makedirs(self.rows_dir)

    def _trial_ended(self, trial: Any) -> None:
        consolidate_trial(self.storage, self.results_dir, trial.trial_id)
        if self.journal_mirror is not None:
            self.journal_mirror.sync_journal_up()

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict,
                        **info: Any) -> None:
        row = build_row(result, trial.config, self.identity, self.searched, trial.trial_id)
        if row[S.IS_FINAL]:
            row[S.CHECKPOINT_PATH] = self._checkpoint_path(trial, result)
        path = result_file(self.rows_dir, trial.trial_id, row[S.ITERATION])
        self.rows_written += write_rows_atomic(self.storage, path, [row])

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        last = trial.last_result or {}
        if not last.get(S.IS_FINAL):
            self._terminal_row(trial, S.STATUS_PRUNED, None)
        self._trial_ended(trial)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        error = _error_text(trial)
        self._terminal_row(trial, error_status(error), error)
        self._trial_ended(trial)

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        # A trial stopped by the time budget ends TERMINATED without on_trial_complete.
        # After an interrupt (Ctrl-C) Tune stops the running trials the same way, but its
        # saved state still has them RUNNING and `resume` finishes them: they get no row
        # that says they ended.
        from orchestrator.interrupts import interrupted

        if interrupted():
            return
        for trial in trials:
            last = trial.last_result or {}
            if trial.status == "TERMINATED" and not last.get(S.IS_FINAL):
                self._terminal_row(trial, S.STATUS_PRUNED, None)
                self._trial_ended(trial)

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        if self.quiet:
            return
        first_line = _error_text(trial).strip().splitlines()[-1:] or ["(no message)"]
        print(f"trial {trial.trial_id} failed (failure {trial.num_failures}); "
              f"retrying from its last checkpoint: {first_line[0][:200]}", flush=True)

    def _checkpoint_path(self, trial: Any, result: Mapping[str, Any]) -> str | None:
        """Where the checkpoint reported with ``result`` lands (the exportable model of a
        final row): the trial's folder and the checkpoint folder Tune named in the result
        (``checkpoint_dir_name``), as a path or a URI of the storage."""
        name = result.get(CHECKPOINT_DIR_NAME)
        folder = getattr(trial, "path", None)
        if not name or not folder:
            return None
        return self.storage.uri(f"{folder.rstrip('/')}/{name}")

    def _terminal_row(self, trial: Any, status: str, error: str | None) -> None:
        last = trial.last_result or {}
        row = build_row(last, trial.config, self.identity, self.searched, trial.trial_id)
        row[S.ITERATION] = int(last.get(tune_result.TRAINING_ITERATION, 0)) + 1
        row[S.STATUS], row[S.IS_FINAL], row[S.ERROR] = status, True, error
        path = result_file(self.rows_dir, trial.trial_id, row[S.ITERATION], status)
        self.rows_written += write_rows_atomic(self.storage, path, [row])


def _error_text(trial: Any) -> str:
    """The trial's error, first line(s) of what Tune recorded, trimmed for a Parquet cell."""
    text = ""
    for attr in ("error_message",):
        text = getattr(trial, attr, None) or ""
    path = getattr(trial, "error_file", None)
    if not text and path and os.path.exists(path):
        text = Path(path).read_text(errors="replace")
    return text.strip()[-2000:] or "the trial failed (no error message recorded)"
