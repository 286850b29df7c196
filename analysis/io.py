"""Read experiment folders, local or behind a pyarrow filesystem URI, into one checked frame.

An experiment folder holds ``results/*.parquet`` (many small files, each written once by
rename) and optionally ``experiment.json``. Reading works while a sweep is still writing:
a file is either complete or not listed yet. A file that is not Parquet, lacks required
columns or carries a column of the wrong type is skipped with a warning that names it; a
file written by a newer schema stops the read (its rows cannot be trusted).

Example:
    >>> from analysis import io
    >>> df = io.read_experiments(["experiments/cap_soft_sst2"])        # doctest: +SKIP
    >>> df = io.read_experiments(["s3://bucket/sweeps/cap_soft_sst2"])  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import json
import re
import warnings
from collections.abc import Iterable
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from analysis import schema
from analysis.errors import AnalysisError
from analysis.layout import INFO_FILE
from analysis.layout import RESULTS_DIR
from analysis.layout import ROWS_DIR
from analysis.layout import collapse_consolidated
from analysis.layout import latest_per_trial
from analysis.layout import rows_behind

#: Files read at once from a remote store (s3://, gs://, ...), whose per-request delay is
#: worth overlapping. Local files are read one after the other: for small files the work
#: is Python-bound and threads only add contention.
READ_THREADS = 8


@dataclass(frozen=True)
class Location:
    """An experiment folder: the filesystem it lives on and its path there."""

    filesystem: pafs.FileSystem
    path: str
    display: str
    #: For an output folder inside an experiment (its ``report/``): the experiment's path,
    #: which the folder and its files must not leave through a symlink
    within: str | None = None

    def join(self, *parts: str) -> str:
        return "/".join([self.path.rstrip("/"), *parts])


#: Seconds to wait for an object store's endpoint before calling it unreachable: pyarrow's
#: S3 client retries a refused or silent endpoint for many seconds per request, and a
#: command makes many requests.
ENDPOINT_TIMEOUT_S = 3.0


def endpoint_problem(uri: str, timeout_s: float = ENDPOINT_TIMEOUT_S) -> str | None:
    """Why the ``endpoint_override`` named in ``uri``'s query cannot be reached, or None (no
    such parameter, or something accepts a connection there within ``timeout_s``).

    The message names the host and port only, never the URI (it may carry credentials).
    """
    import socket
    from urllib.parse import parse_qs, urlsplit

    query = parse_qs(uri.partition("?")[2])
    endpoint = (query.get("endpoint_override") or [None])[0]
    if not endpoint:
        return None
    scheme = (query.get("scheme") or ["https"])[0]
    parts = urlsplit(endpoint if "://" in endpoint else f"{scheme}://{endpoint}")
    try:
        port = parts.port or (80 if parts.scheme == "http" else 443)
    except ValueError:
        return f"endpoint_override {parts.netloc!r} has no valid port"
    host = parts.hostname or ""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except OSError as exc:
        return (f"the storage endpoint {host}:{port} does not answer ({exc.strerror or exc}; "
                f"waited up to {timeout_s:g} s)")


def resolve(location: str | Path) -> Location:
    """Turn a local path or a URI (``file://``, ``s3://``, ``gs://``, ...) into a Location.

    Example:
        >>> resolve("/tmp/exp").path
        '/tmp/exp'
    """
    text = str(location)
    if "://" in text:
        try:
            fs, path = pafs.FileSystem.from_uri(text)
        except (pa.ArrowException, ValueError) as exc:
            raise AnalysisError(f"cannot open {text}: {exc}") from exc
        problem = endpoint_problem(text)
        if problem is not None:
            shown = re.sub(r"//[^/@]*@", "//***@", text.partition("?")[0])  # no credentials
            raise AnalysisError(f"cannot read {shown}: {problem}")
        return Location(fs, path, text)
    return Location(pafs.LocalFileSystem(), Path(text).expanduser().resolve().as_posix(), text)


def experiment_info(location: str | Path | Location) -> dict[str, Any]:
    """The experiment's ``experiment.json`` as a dict, or ``{}`` when there is none."""
    loc = location if isinstance(location, Location) else resolve(location)
    path = loc.join(INFO_FILE)
    if loc.filesystem.get_file_info(path).type != pafs.FileType.File:
        return {}
    try:
        with loc.filesystem.open_input_stream(path) as stream:
            info = json.loads(stream.read().decode("utf-8"))
    except (OSError, ValueError) as exc:
        warnings.warn(f"ignoring {loc.display}/{INFO_FILE}: {exc}", stacklevel=2)
        return {}
    return info if isinstance(info, dict) else {}


def list_result_files(location: str | Path | Location) -> list[str]:
    """Paths (on the location's filesystem) of the result files, in file-name order.

    Both ``results/`` and ``_rows/`` are listed (:mod:`analysis.layout`). Hidden
    and underscore-prefixed file names are temporary files of a writer and are left out.

    Raises:
        AnalysisError: the folder does not exist, is empty, or has no ``results/`` folder.
    """
    loc = location if isinstance(location, Location) else resolve(location)
    fs = loc.filesystem
    kind = fs.get_file_info(loc.path).type
    if kind == pafs.FileType.NotFound:
        raise AnalysisError(f"{loc.display}: no such experiment folder")
    if kind != pafs.FileType.Directory:
        raise AnalysisError(f"{loc.display} is not a folder (give an experiment folder)")
    results = fs.get_file_info(loc.join(RESULTS_DIR))
    if results.type != pafs.FileType.Directory:
        entries = fs.get_file_info(pafs.FileSelector(loc.path))
        if not entries:
            raise AnalysisError(
                f"{loc.display} is empty; an experiment folder holds {RESULTS_DIR}/*.parquet"
            )
        names = ", ".join(sorted(e.base_name for e in entries)[:5])
        raise AnalysisError(
            f"{loc.display} has no {RESULTS_DIR}/ folder (found: {names}); "
            "is it an experiment folder?"
        )
    # Per-row files sit in <experiment>/_rows/ (ROWS_DIR), finished trials' files
    # in results/; experiments written before that split hold both in results/.
    infos = fs.get_file_info(pafs.FileSelector(results.path))
    rows = fs.get_file_info(
        pafs.FileSelector(loc.join(ROWS_DIR), allow_not_found=True))
    found = sorted(
        (i.base_name, i.path)
        for i in (*infos, *rows)
        if i.type == pafs.FileType.File
        and i.base_name.endswith(".parquet")
        and not i.base_name.startswith((".", "_"))
    )
    return [path for _, path in found]


def read_experiments(
    locations: Iterable[str | Path], *, strict: bool = False, latest_only: bool = False,
    all_files: bool = False,
) -> Any:
    """Read several experiment folders into one frame (see :func:`read_experiment`).

    ``frame.attrs`` holds ``files_read`` and ``files_total``, summed over the folders.
    """
    import pandas as pd

    frames = [read_experiment(loc, strict=strict, latest_only=latest_only, all_files=all_files)
              for loc in locations]
    if not frames:
        raise AnalysisError("no experiment folder given")
    frame = pd.concat(frames, ignore_index=True, sort=False) if len(frames) > 1 else frames[0]
    frame.attrs = {k: sum(f.attrs[k] for f in frames) for k in ("files_read", "files_total")}
    return frame


def read_experiment(
    location: str | Path | Location, *, strict: bool = False, latest_only: bool = False,
    all_files: bool = False,
) -> Any:
    """Read and check the result files of one experiment folder.

    Args:
        location: a local path or a pyarrow filesystem URI.
        strict: raise on the first unreadable or foreign file instead of skipping it.
        latest_only: read only each trial's latest files (:func:`latest_per_trial`): all
            that fronts, counts and hypervolume need, one file per trial instead of one
            per evaluation.
        all_files: also read the per-row files that a trial's consolidated file already
            holds (:func:`collapse_consolidated`), dropping the duplicate rows: a check that
            every file is readable, not needed for the numbers.

    Returns:
        A ``pandas.DataFrame`` with every fixed schema column (absent ones as nulls) and the
        ``param_*`` columns found; ``attrs`` has ``files_read`` and ``files_total``.

    Raises:
        AnalysisError: no folder, no result files, or no readable rows.
        SchemaError: a file was written with a newer ``schema_version``.
    """
    loc = location if isinstance(location, Location) else resolve(location)
    files = list_result_files(loc)
    if not files:
        raise AnalysisError(f"{loc.display}/{RESULTS_DIR} holds no result files yet")
    total = len(files)
    every = files  # an unreadable consolidated file falls back to its per-row files
    if not all_files:
        files = collapse_consolidated(files)
    files = latest_per_trial(files) if latest_only else files
    groups = _read_files(loc, files, strict, every, latest_only)
    groups = _drop_foreign_rows(groups, experiment_info(loc).get("name"), strict)
    if not groups:
        raise AnalysisError(
            f"none of the {len(files)} result files in {loc.display}/{RESULTS_DIR} could be "
            "read (see the warnings above)"
        )
    for items in groups.values():
        _check_versions(items)
    frame = _to_frame(groups)
    if all_files:
        frame = frame.drop_duplicates([schema.TRIAL_ID, schema.ITERATION, schema.STATUS])
        frame = frame.reset_index(drop=True)
    if frame.empty:
        raise AnalysisError(f"the result files in {loc.display}/{RESULTS_DIR} hold no rows")
    frame.attrs = {"files_read": len(files), "files_total": total}
    return frame


def read_results(location: str | Path | Location, *, strict: bool = False) -> Any:
    """:func:`read_experiment`, or an empty frame with the fixed columns when the folder has
    no readable rows yet (a sweep that has not reported): what the orchestrator's ``status``,
    ``resume`` and end-of-sweep lines need.

    Raises:
        SchemaError: ``strict`` and a file cannot be read, or rows of a newer schema.
    """
    try:
        return read_experiment(location, strict=strict)
    except AnalysisError:
        return schema.arrow_schema().empty_table().to_pandas()


_Group = list[tuple[str, pa.Table]]


def _drop_foreign_rows(groups: dict[pa.Schema, _Group], name: Any,
                       strict: bool) -> dict[pa.Schema, _Group]:
    """Keep only the rows of experiment ``name`` (experiment.json's name; the rows carry it
    in their ``experiment`` column): a result file copied in from another experiment was
    counted as this experiment's trial. Without a recorded name nothing is dropped."""
    if not isinstance(name, str) or not name:
        return groups
    import pyarrow.compute as pc

    kept: dict[pa.Schema, _Group] = {}
    for key, items in groups.items():
        out: _Group = []
        for path, table in items:
            if schema.EXPERIMENT in table.column_names:
                column = table.column(schema.EXPERIMENT)
                mine = pc.fill_null(pc.equal(column, pa.scalar(name, column.type)), True) \
                    if pa.types.is_string(column.type) or pa.types.is_large_string(
                        column.type) else None
                if mine is not None and not pc.all(mine).as_py():
                    others = sorted({v for v in column.to_pylist() if v is not None and
                                     v != name})
                    message = (f"{path} holds rows of experiment(s) {', '.join(others)}, "
                               f"not of {name}")
                    if strict:
                        raise schema.SchemaError(message)
                    warnings.warn(f"skipping those rows: {message}", stacklevel=4)
                    table = table.filter(mine)
                    if table.num_rows == 0:
                        continue
            out.append((path, table))
        if out:
            kept[key] = out
    return kept


def _read_files(loc: Location, files: list[str], strict: bool, every: list[str] = (),
                latest_only: bool = False) -> dict[pa.Schema, _Group]:
    """The readable files grouped by Arrow schema; each schema is checked once.

    An unreadable consolidated file is replaced by the per-row files it stands for (found in
    ``every``), so one corrupt file does not drop its whole trial.
    """
    seen: dict[pa.Schema, _Group | str] = {}  # a str is why that schema is refused
    while files:
        fallback: list[str] = []
        for path, table, error in _load_all(loc.filesystem, files):
            if table is not None:
                entry = seen.get(table.schema)
                if entry is None:
                    entry = seen[table.schema] = _schema_problem(table.schema) or []
                if not isinstance(entry, str):
                    entry.append((path, table))
                    continue
                error = entry
            if strict:
                raise schema.SchemaError(f"cannot read {path}: {error}")
            behind = rows_behind(path, every)
            behind = latest_per_trial(behind) if latest_only else behind
            warnings.warn(f"skipping {path}: {error}" + (
                f"; reading its {len(behind)} per-row files instead" if behind else ""),
                stacklevel=4)
            fallback += behind
        files = fallback
    return {k: v for k, v in seen.items() if not isinstance(v, str)}


def _load_all(
    fs: pafs.FileSystem, files: list[str]
) -> Iterator[tuple[str, pa.Table | None, str | None]]:
    """(path, table, None) or (path, None, error) per file, in order."""
    if isinstance(fs, pafs.LocalFileSystem):
        for path in files:
            yield (path, *_load_file(fs, path))
        return
    with ThreadPoolExecutor(max_workers=READ_THREADS) as pool:
        try:
            for path, result in zip(files, pool.map(functools.partial(_load_file, fs), files)):
                yield (path, *result)
        finally:
            pool.shutdown(cancel_futures=True)


def _check_versions(items: _Group) -> None:
    """Refuse the rows of a newer schema, naming the first file that holds some."""
    versions = pa.chunked_array([t.column(schema.SCHEMA_VERSION_COL) for _, t in items])
    newest = pc.max(versions).as_py()
    if newest is None or newest <= schema.SCHEMA_VERSION:
        return
    for path, table in items:
        schema.validate_version(table.column(schema.SCHEMA_VERSION_COL).to_pylist(), path)


def _load_file(fs: pafs.FileSystem, path: str) -> tuple[pa.Table | None, str | None]:
    """Read one file (possibly in a worker thread): (table, None) or (None, the error)."""
    try:
        with fs.open_input_file(path) as handle:
            data = handle.readall()
        return pq.ParquetFile(pa.BufferReader(data)).read(use_threads=False), None
    except (pa.ArrowException, OSError) as exc:
        return None, str(exc)


def _schema_problem(arrow: pa.Schema) -> str | None:
    """Why a file's Arrow schema is foreign, or None when it follows ours."""
    missing = [c for c in schema.REQUIRED if c not in arrow.names]
    if missing:
        return f"lacks required result columns: {', '.join(missing)}"
    for field in arrow:
        expected = schema.COLUMNS.get(field.name)
        if expected is not None and not _compatible(field.type, expected):
            return f"column {field.name!r} has type {field.type}, expected {expected}"
    return None


def _compatible(actual: pa.DataType, expected: pa.DataType) -> bool:
    if actual == expected or pa.types.is_null(actual):
        return True
    if pa.types.is_integer(expected):
        return pa.types.is_integer(actual)
    if pa.types.is_floating(expected):
        return pa.types.is_integer(actual) or pa.types.is_floating(actual)
    if pa.types.is_string(expected):
        return pa.types.is_large_string(actual) or pa.types.is_string_view(actual)
    return False


def _to_frame(groups: dict[pa.Schema, _Group]) -> Any:
    import pandas as pd

    frames = [_canonical(pa.concat_tables([t for _, t in items]).combine_chunks()).to_pandas()
              for items in groups.values()]
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True, sort=False)
    for name, typ in schema.COLUMNS.items():
        if name not in frame.columns:
            frame[name] = pa.nulls(len(frame), typ).to_pandas()
    fixed = [c for c in schema.COLUMNS]
    params = sorted(c for c in frame.columns if c not in schema.COLUMNS)
    return frame[fixed + params]


def _canonical(table: pa.Table) -> pa.Table:
    """Cast the fixed columns to the schema's types (int -> float, null -> typed)."""
    fields = [
        pa.field(f.name, schema.COLUMNS.get(f.name, f.type)) for f in table.schema
    ]
    target = pa.schema(fields)
    return table if target.equals(table.schema) else table.cast(target)
