"""Where GLUE examples come from: a data folder (Parquet or GLUE_DATA TSV) or the hub.

Two folder layouts are understood, and :func:`find_split` tells them apart by what exists:

- the Hugging Face Parquet layout ``<dir>/<hf_config>/<split>.parquet`` (or the shards
  ``<split>-00000-of-00001.parquet`` of a clone of ``nyu-mll/glue``); ``<dir>`` may also be
  the config folder itself;
- the original GLUE_DATA layout ``<dir>/<TSV_DIR>/{train,dev}.tsv`` (MNLI:
  ``dev_matched.tsv`` / ``dev_mismatched.tsv``); ``<dir>`` may also be the task folder.

``<dir>`` may also be a GLUE root holding the layouts as ``parquet/`` and ``tsv/`` (as
``../shared/data/glue`` does): Parquet is tried first. When nothing is found, the error
suggests a folder below ``<dir>`` that holds the split.

TSVs are read as the original GLUE processors read them: split on tabs with no quote
handling (MRPC and MNLI texts contain unbalanced ``"``), MRPC's byte-order mark dropped, CoLA
without a header, text labels mapped to the Hugging Face label order.

Example:
    >>> from trainables.tasks import get_task
    >>> sst2 = get_task("sst2")
    >>> layout, paths = find_split(sst2, "train", "../shared/data/glue/tsv")  # doctest: +SKIP
    >>> read_split(sst2, layout, paths).text_a[0]                             # doctest: +SKIP
    'hide new secretions from the parental units '
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainables.tasks import TaskSpec
from trainables.tasks import UnknownTaskError
from trainables.tasks import get_task

log = logging.getLogger(__name__)

PARQUET = "parquet"
TSV = "tsv"


class DataNotFoundError(FileNotFoundError):
    """A data folder, or the split inside it, does not exist."""


class DataFormatError(ValueError):
    """A data file exists but does not have the columns or labels the task needs."""


@dataclass(frozen=True, eq=False)
class Examples:
    """The texts and labels of one split, in file order.

    ``eq=False`` because the labels are a numpy array; compare fields instead.

    Example:
        >>> ex = Examples(["a film"], None, np.array([1]))
        >>> len(ex)
        1
    """

    text_a: list[str]
    text_b: list[str] | None
    labels: np.ndarray  # int64 class ids, or float32 for regression

    def __post_init__(self) -> None:
        object.__setattr__(self, "labels", np.asarray(self.labels))  # lists are welcome
        n = len(self.text_a)
        if self.text_b is not None and len(self.text_b) != n:
            raise ValueError(f"`text_b` must have {n} rows like `text_a`, got {len(self.text_b)}.")
        if len(self.labels) != n:
            raise ValueError(f"`labels` must have {n} rows like `text_a`, got {len(self.labels)}.")

    def __len__(self) -> int:
        return len(self.text_a)


def split_names(task: TaskSpec) -> tuple[str, ...]:
    """The splits a task can load: ``train`` and its evaluation splits."""
    return ("train", *task.eval_splits)


def check_split(task: TaskSpec, split: str) -> None:
    """Raise ValueError unless ``split`` is one of the task's splits."""
    if split not in split_names(task):
        raise ValueError(
            f"split {split!r} is not a split of task {task.name!r}; "
            f"valid splits are {', '.join(split_names(task))}."
        )


def make_labels(task: TaskSpec, values: list) -> np.ndarray:
    """Labels as int64 class ids, or float32 values for a regression task."""
    return np.asarray(values, dtype=np.float32 if task.is_regression else np.int64)


# -- locating a split ---------------------------------------------------------------------


def _tsv_name(split: str) -> str:
    # GLUE_DATA calls the validation split "dev"; MNLI has one per genre set.
    return {"train": "train.tsv", "validation": "dev.tsv"}.get(
        split, split.replace("validation_", "dev_") + ".tsv"
    )


def _names_task(folder: Path, task: TaskSpec) -> bool:
    try:
        return get_task(folder.name).name == task.name
    except UnknownTaskError:
        return False


# A GLUE root that keeps both layouts side by side names their folders this way; a user who
# passes the root instead of the folder inside meant the layout inside.
LAYOUT_FOLDERS = {PARQUET: "parquet", TSV: "tsv"}


def _candidates(task: TaskSpec, split: str, root: Path) -> list[tuple[str, Path, str]]:
    """(layout, folder, file pattern) in the order they are tried: ``root`` itself first
    (Parquet, then TSV), then the layout folders of a GLUE root (``parquet/``, ``tsv/``)."""
    out = _layout_candidates(task, split, root)
    for layout, name in LAYOUT_FOLDERS.items():
        inner = root / name
        if inner.is_dir():
            out += [c for c in _layout_candidates(task, split, inner) if c[0] == layout]
    return out


def _layout_candidates(task: TaskSpec, split: str, root: Path) -> list[tuple[str, Path, str]]:
    parquet_folders, tsv_folders = [root / str(task.hf_config)], [root / str(task.tsv_dir)]
    if _names_task(root, task):  # --data-dir pointed at the task's own folder
        parquet_folders.append(root)
        tsv_folders.append(root)
    out = []
    for folder in parquet_folders:
        out += [(PARQUET, folder, f"{split}.parquet"), (PARQUET, folder, f"{split}-*.parquet")]
    return out + [(TSV, folder, _tsv_name(split)) for folder in tsv_folders]


def _first_match(candidates: list[tuple[str, Path, str]]) -> tuple[str, list[Path]] | None:
    for layout, folder, pattern in candidates:
        files = sorted(folder.glob(pattern))
        if files:
            return layout, files
    return None


# How far below --data-dir a suggestion is looked for, and how many folders at most: a user
# who passed a folder too high up (the repository, a home folder) must not wait for a walk.
_SUGGEST_DEPTH = 3
_SUGGEST_FOLDERS = 2000


def suggest_data_dir(task: TaskSpec, split: str, root: Path) -> Path | None:
    """The shallowest folder below ``root`` that holds ``split`` of ``task``, if any."""
    level, seen = [root], 0
    for _ in range(_SUGGEST_DEPTH):
        deeper = []
        for folder in level:
            try:
                children = sorted(p for p in folder.iterdir()
                                  if p.is_dir() and not p.name.startswith("."))
            except OSError:
                continue
            for child in children:
                seen += 1
                if seen > _SUGGEST_FOLDERS:
                    return None
                if _first_match(_candidates(task, split, child)):
                    return child
                deeper.append(child)
        level = deeper
    return None


def describe_source(task: TaskSpec, data_dir: str | Path) -> str:
    """Which layout a data folder is read in, and from where (for the launch's summary).

    Example:
        >>> describe_source(get_task("sst2"), "../shared/data/glue")  # doctest: +SKIP
        'the Parquet layout in ../shared/data/glue/parquet/sst2'
    """
    layout, files = find_split(task, "train", data_dir)
    name = "Parquet" if layout == PARQUET else "GLUE_DATA TSV"
    return f"the {name} layout in {files[0].parent}"


def find_split(task: TaskSpec, split: str, data_dir: str | Path) -> tuple[str, list[Path]]:
    """Find ``split`` of ``task`` under ``data_dir`` and say which layout it is in.

    Returns:
        ``(layout, files)``: ``"parquet"`` or ``"tsv"``, and the file(s) to read (several
        only for sharded Parquet).

    Raises:
        DataNotFoundError: the folder does not exist, or holds the split in neither layout;
            the message lists every path looked for.
    """
    check_split(task, split)
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise DataNotFoundError(
            f"data directory {root} does not exist or is not a folder; pass --data-dir a "
            f"folder in the Hugging Face Parquet layout (<dir>/{task.hf_config}/{split}.parquet)"
            f" or the GLUE_DATA TSV layout (<dir>/{task.tsv_dir}/{_tsv_name(split)})"
        )
    candidates = _candidates(task, split, root)
    found = _first_match(candidates)
    if found is not None:
        layout, files = found
        not_files = [f for f in files if not f.is_file()]
        if not_files:
            raise DataNotFoundError(
                f"{not_files[0]} is a directory, not a data file; the {split!r} split of "
                f"task {task.name!r} must be a file there")
        return layout, files
    looked = "\n  ".join(str(folder / pattern) for _, folder, pattern in candidates)
    inside = suggest_data_dir(task, split, root)
    hint = f"\nthe folder inside holds it: pass --data-dir {inside}" if inside else ""
    raise DataNotFoundError(
        f"no {split!r} split of task {task.name!r} under {root}; looked for:\n  {looked}{hint}"
    )


def read_split(task: TaskSpec, layout: str, files: list[Path]) -> Examples:
    """Read the files :func:`find_split` returned."""
    if layout == PARQUET:
        return read_parquet(task, files)
    if len(files) != 1:
        raise ValueError(f"a TSV split is one file, but got {files}.")
    return read_tsv(task, files[0])


# -- Parquet --------------------------------------------------------------------------------


def read_parquet(task: TaskSpec, files: list[Path]) -> Examples:
    """Examples from Hugging Face Parquet file(s) with the task's text columns and ``label``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = [*task.text_fields, "label"]
    tables = []
    for path in files:
        try:
            names = pq.read_schema(path).names
            missing = [c for c in columns if c not in names]
            if not missing:
                tables.append(pq.read_table(path, columns=columns))
        except (pa.ArrowException, OSError) as exc:
            raise DataFormatError(f"{path} is not a readable Parquet file: "
                                  f"{str(exc).splitlines()[0] if str(exc) else exc!r}") from None
        if missing:
            raise DataFormatError(
                f"{path} lacks column(s) {missing} that task {task.name!r} needs "
                f"(expected {columns})"
            )
    table = pa.concat_tables(tables)
    where = files[0] if len(files) == 1 else files
    texts = [_strings(table.column(name).to_pylist(), where, name) for name in task.text_fields]
    labels = checked_labels(task, table.column("label").to_pylist(), where)
    return Examples(texts[0], texts[1] if task.is_pair else None, labels)


def _strings(values: list, source: object, column: str) -> list[str]:
    """The text column ``column`` of ``source``: strings, and not all of them empty.

    A column of numbers used to reach the tokenizer inside every trial (a traceback there),
    and a column of empty strings trained on nothing but padding without a word.
    """
    for row, value in enumerate(values):
        if value is None:
            raise DataFormatError(f"{source}: column {column!r} is null in row {row}")
        if not isinstance(value, str):
            raise DataFormatError(f"{source}: column {column!r} holds {type(value).__name__} "
                                  f"{value!r} in row {row}; a text column must hold strings")
    if values and not any(value.strip() for value in values):
        raise DataFormatError(f"{source}: every value of text column {column!r} is empty "
                              f"({len(values)} rows); there is nothing to train or evaluate on")
    return values


# The documented range of each regression task's gold scores (STS-B: similarity 0 to 5).
REGRESSION_RANGES: dict[str, tuple[float, float]] = {"stsb": (0.0, 5.0)}


def checked_labels(task: TaskSpec, values: list, source: object) -> np.ndarray:
    """``values`` as the task's label array, refusing labels that would train silently wrong.

    Class labels must be whole numbers in ``0..num_labels-1`` (a float 0.5 would be
    truncated to class 0); regression labels must be finite and inside the task's range (a
    NaN label makes every metric NaN, reported as a score of 0). The message names the file,
    the row and the rule.

    Raises:
        DataFormatError: a label breaks the task's rule.
    """
    for row, value in enumerate(values):
        if value is None:  # pandas writes NaN as a Parquet null
            raise DataFormatError(f"{source}: the label in row {row} is missing (null or NaN);"
                                  f" task {task.name!r} needs a label on every row")
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise DataFormatError(f"{source}: label {value!r} in row {row} is not a number")
    raw = np.asarray(values, dtype=np.float64)
    if task.is_regression:
        bad = ~np.isfinite(raw)
        if bad.any():
            row = int(np.argmax(bad))
            raise DataFormatError(
                f"{source}: label {float(raw[row]):g} in row {row} is not finite "
                f"({int(bad.sum())} of {len(raw)} labels); regression labels of task "
                f"{task.name!r} must be finite numbers")
        low, high = REGRESSION_RANGES.get(task.name, (-np.inf, np.inf))
        bad = (raw < low) | (raw > high)
        if bad.any():
            row = int(np.argmax(bad))
            raise DataFormatError(
                f"{source}: label {raw[row]:g} in row {row} is outside {low:g}..{high:g}, the "
                f"range of task {task.name!r}")
        return raw.astype(np.float32)
    fractional = ~np.isfinite(raw) | (raw != np.round(raw))
    if fractional.any():
        row = int(np.argmax(fractional))
        raise DataFormatError(
            f"{source}: label {float(raw[row]):g} in row {row} is not a whole class id; task "
            f"{task.name!r} needs class labels 0..{task.num_labels - 1}")
    labels = raw.astype(np.int64)
    _check_label_range(task, labels, source)
    return labels


def _check_label_range(task: TaskSpec, labels: np.ndarray, source: object) -> None:
    # The test splits carry label -1; training on them would be silently wrong.
    if task.is_regression or not len(labels):
        return
    bad = (labels < 0) | (labels >= task.num_labels)
    if bad.any():
        row = int(np.argmax(bad))
        raise DataFormatError(
            f"{source}: label {int(labels[row])} in row {row} is outside 0..{task.num_labels - 1}"
            f" (unlabelled test split?)"
        )


# -- GLUE_DATA TSV --------------------------------------------------------------------------


@dataclass(frozen=True)
class TsvLayout:
    """Column positions of one task's GLUE_DATA TSV (as in the original GLUE processors)."""

    text_columns: tuple[int, ...]
    label_column: int  # -1: the last column (MNLI's gold_label follows a variable label list)
    header: bool = True
    skip_short_rows: bool = False


TSV_LAYOUTS: dict[str, TsvLayout] = {
    "cola": TsvLayout((3,), 1, header=False),  # source, label, original label, sentence
    "sst2": TsvLayout((0,), 1),  # sentence, label
    "mrpc": TsvLayout((3, 4), 0),  # Quality, #1 ID, #2 ID, #1 String, #2 String
    # id, qid1, qid2, question1, question2, is_duplicate. A few rows of the original train
    # file have fewer than six columns; the GLUE processors skip them (`except IndexError:
    # continue`), and so do we, so that row counts match theirs.
    "qqp": TsvLayout((3, 4), 5, skip_short_rows=True),
    # index, genre, filename, year, old_index, source1, source2, sentence1, sentence2, score
    "stsb": TsvLayout((7, 8), -1),
    # index, promptID, pairID, genre, 4 parse columns, sentence1, sentence2, label1 (dev:
    # label1..label5), gold_label
    "mnli": TsvLayout((8, 9), -1),
    "qnli": TsvLayout((1, 2), -1),  # index, question, sentence, label
    "rte": TsvLayout((1, 2), -1),  # index, sentence1, sentence2, label
}


def read_tsv(task: TaskSpec, path: Path) -> Examples:
    """Examples from one GLUE_DATA TSV file of ``task``."""
    layout = TSV_LAYOUTS.get(task.name)
    if layout is None:
        raise DataFormatError(f"task {task.name!r} has no GLUE_DATA TSV layout")
    # utf-8-sig drops MRPC's byte-order mark. Rows end at "\n" only, as for the csv module
    # the processors used; str.splitlines would also break rows at U+2028, \x1c, \x85...
    lines = path.read_text(encoding="utf-8-sig").split("\n")
    rows = [(number, line.rstrip("\r").split("\t"))
            for number, line in enumerate(lines, start=1) if line.strip("\r")]
    if layout.header:
        rows = rows[1:]
    needed = max(*layout.text_columns, layout.label_column) + 1
    texts: list[list[str]] = [[] for _ in layout.text_columns]
    raw_labels, skipped = [], 0
    for number, fields in rows:
        if len(fields) < needed:
            if layout.skip_short_rows:
                skipped += 1
                continue
            raise DataFormatError(
                f"{path}:{number}: expected at least {needed} tab-separated columns for task "
                f"{task.name!r}, got {len(fields)}"
            )
        for column, values in zip(layout.text_columns, texts):
            values.append(fields[column])
        raw_labels.append(_parse_label(task, fields[layout.label_column], f"{path}:{number}"))
    if skipped:
        log.warning("%s: skipped %d malformed row(s), as the GLUE processors do", path, skipped)
    names = task.text_fields
    return Examples(_strings(texts[0], path, names[0]),
                    _strings(texts[1], path, names[1]) if task.is_pair else None,
                    checked_labels(task, raw_labels, path))


def _parse_label(task: TaskSpec, raw: str, where: str) -> float | int:
    raw = raw.strip()
    try:
        if task.is_regression:
            return float(raw)
        if raw in task.label_names:
            return task.label_names.index(raw)
        value = int(raw)
        if 0 <= value < task.num_labels:
            return value
    except ValueError:
        pass
    expected = "a number" if task.is_regression else (
        f"one of {task.label_names} or 0..{task.num_labels - 1}")
    raise DataFormatError(f"{where}: label {raw!r} is not {expected}")


# -- the hub --------------------------------------------------------------------------------

HUB_DATASET = "nyu-mll/glue"
DATA_DIR_HINT = (
    "pass --data-dir DIR, a folder in the Hugging Face Parquet layout "
    "(DIR/<config>/<split>.parquet) or the GLUE_DATA TSV layout (DIR/<TASK>/train.tsv)"
)


def read_hub(task: TaskSpec, split: str) -> Examples:
    """Examples of ``split`` from ``nyu-mll/glue`` via :func:`datasets.load_dataset`.

    Fails within seconds when the hub cannot be used, with a message that names
    ``--data-dir``: unlike ``datasets``, which retries for about 25 s before giving up.

    Raises:
        trainables.hub.HubUnavailableError: the hub is unreachable or switched off and the
            split is not in the local ``datasets`` cache.
    """
    from trainables import hub

    check_split(task, split)
    what = f"GLUE task {task.name!r} ({HUB_DATASET}, config {task.hf_config!r})"
    # Only a datasets that is itself offline answers from its cache or fails at once;
    # otherwise one bounded connect decides first.
    if not (hub.hub_offline_flag() and _datasets_offline()):
        hub.require_hub(what, DATA_DIR_HINT + " (or set HF_HUB_OFFLINE=1 to use a copy "
                        "in the local datasets cache)")
    try:
        from datasets import load_dataset

        dataset = load_dataset(HUB_DATASET, task.hf_config, split=split)
    except (ConnectionError, FileNotFoundError) as exc:
        raise hub.HubUnavailableError(
            f"{what} could not be loaded from the hub or the local datasets cache "
            f"({type(exc).__name__}: {exc}); {DATA_DIR_HINT}"
        ) from exc
    texts = [list(dataset[name]) for name in task.text_fields]
    labels = checked_labels(task, list(dataset["label"]),
                            f"{HUB_DATASET}/{task.hf_config}/{split}")
    return Examples(texts[0], texts[1] if task.is_pair else None, labels)


def _datasets_offline() -> bool:
    # datasets reads HF_HUB_OFFLINE / HF_DATASETS_OFFLINE once, when first imported; a flag
    # set later (as tests do) does not reach it.
    from datasets import config

    return bool(config.HF_HUB_OFFLINE)
