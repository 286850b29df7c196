"""Reference scores drawn on every front: the majority class, the CAP teacher, the dense model.

Three kinds of horizontal line per task, each with where its value came from:

- ``majority``: the score of always predicting the most frequent class, computed with the
  task's own metric (QQP and MRPC: the mean of accuracy and F1 of that predictor; CoLA's
  MCC and STS-B's correlation of a constant are 0). It is also the default hypervolume
  reference for ``score`` (:func:`analysis.hypervolume.reference_point`). The value comes
  first from the result rows (``majority_score``, measured by the trainables on the rows
  each score rests on: :func:`measured_majority`), then from the experiment's
  ``experiment.json`` (:data:`MAJORITY_SCORE_KEY`, or :data:`EVAL_LABEL_COUNTS_KEY` with the
  evaluation set's label counts), and only for experiments older than schema 3 from
  :data:`MAJORITY_SCORES`, computed from the full GLUE dev sets (labelled as a fallback).
- ``teacher``: the dense teacher of a CAP sweep, read from ``experiment.json``
  (:data:`TEACHER_SCORE_KEY`) or from the teacher artifact's ``metrics.json`` (the one built
  for this task, model and data under the storage root's ``_artifacts/teacher/``).
- ``dense``: the best dense fine-tune among the experiments given (``method == dense``), as
  computed by :func:`analysis.fronts.dense_baseline`.

The metric of each task, its number of labels and the majority-class rule are
:mod:`facts.tasks`' (the trainables read the same facts); this module imports no other
sibling package.

Example:
    >>> majority_class_score("qqp", {0: 25545, 1: 14885})
    0.3159163987138264
    >>> majority_class_score("mrpc", {0: 129, 1: 279})
    0.748025277718508
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from typing import NamedTuple

from analysis import schema
from facts.tasks import TASK_FACTS
from facts.tasks import majority_class_score  # noqa: F401  (re-exported: analysis.__init__)
from facts.tasks import task_key

#: ``experiment.json`` keys the analysis reads when present (the orchestrator may record
#: them; every one has a fallback). ``majority_score``: a number, the majority-class score
#: on the evaluation set the sweep used; ``eval_label_counts``: {label index: count} of that
#: set, from which the score is computed; ``teacher_score``: the CAP teacher's score on it;
#: ``teacher_path``: the teacher's folder (its ``metrics.json`` holds the score).
MAJORITY_SCORE_KEY = "majority_score"
EVAL_LABEL_COUNTS_KEY = "eval_label_counts"
TEACHER_SCORE_KEY = "teacher_score"
TEACHER_PATH_KEY = "teacher_path"

#: The majority-class score on each task's full GLUE dev set (the first evaluated split),
#: with :func:`majority_class_score` on the label counts of ``../shared/data/glue/parquet``
#: (test_analysis_baselines.py recomputes them when that data is there):
#: SST-2 444 positive of 872; MRPC 279 equivalent of 408; QQP 25,545 not-duplicate of
#: 40,430; MNLI-m 3,479 entailment of 9,815; CoLA MCC and STS-B correlation of a constant: 0.
#: QNLI, RTE and the toy tasks are not in that data: their fallback is 1 / classes, said so.
MAJORITY_SCORES: dict[str, float] = {
    "cola": 0.0,
    "sst2": 444 / 872,
    "mrpc": (279 / 408 + 2 * 279 / (2 * 279 + 129)) / 2,
    "qqp": 25545 / 40430 / 2,
    "stsb": 0.0,
    "mnli": 3479 / 9815,
}

MAJORITY, TEACHER, DENSE = "majority", "teacher", "dense"
LABELS = {MAJORITY: "majority class", TEACHER: "CAP teacher", DENSE: "dense fine-tune"}


class Baseline(NamedTuple):
    """One reference score of a task, drawn as a horizontal line and listed in the tables."""

    task: str
    kind: str  # MAJORITY, TEACHER or DENSE
    score: float
    source: str  # where the value came from, in words
    se: float | None = None  # the score's standard error where it was measured (dense)

    @property
    def label(self) -> str:
        return LABELS.get(self.kind, self.kind)


def majority_baseline(task: Any, info: Mapping[str, Any] | None = None) -> Baseline | None:
    """The majority-class score of ``task``: recorded in ``info``, else the table.

    Returns None for a task with no table entry and no recorded value.
    """
    name = task_key(task)
    info = info or {}
    value = info.get(MAJORITY_SCORE_KEY)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Baseline(name, MAJORITY, float(value), f"experiment.json {MAJORITY_SCORE_KEY}")
    counts = info.get(EVAL_LABEL_COUNTS_KEY)
    if isinstance(counts, Mapping) and counts:
        try:
            score = majority_class_score(name, counts)
        except (TypeError, ValueError):
            pass
        else:
            return Baseline(name, MAJORITY, score,
                            f"experiment.json {EVAL_LABEL_COUNTS_KEY} (evaluation set)")
    if name in MAJORITY_SCORES:
        return Baseline(name, MAJORITY, MAJORITY_SCORES[name], "full GLUE dev set (table)")
    if name in TASK_FACTS:
        classes = TASK_FACTS[name].num_labels
        return Baseline(name, MAJORITY, 1 / classes,
                        f"no label counts known for {name}: 1/{classes}, the chance level")
    return None


MEASURED = "measured on"  # the source of a majority score the result rows carry


def measured_majority(task: Any, rows: Any) -> Baseline | None:
    """The majority-class score the result ``rows`` of ``task`` measured (schema 3), or None.

    Trials of one sweep evaluate the same rows; where they did not (another
    ``max_eval_examples``), the value of most final rows is used and the source says how many
    evaluation sets there were.
    """
    if schema.MAJORITY_SCORE not in rows:
        return None
    measured = rows[rows[schema.MAJORITY_SCORE].notna()]
    final = measured[measured[schema.IS_FINAL].fillna(False).astype(bool)]
    measured = final if len(final) else measured
    if measured.empty:
        return None
    keys = measured[schema.MAJORITY_SCORE].astype(float).round(12)
    if schema.EVAL_EXAMPLES in measured:
        keys = keys.astype(str) + "/" + measured[schema.EVAL_EXAMPLES].astype(str)
    common = keys.value_counts().index[0]
    chosen = measured[keys == common].iloc[0]
    n = chosen.get(schema.EVAL_EXAMPLES)
    where = f"{MEASURED} the {int(n)} evaluated rows" if n == n and n is not None else \
        f"{MEASURED} the evaluated rows"
    sets = keys.nunique()
    if sets > 1:
        where += f" (of {sets} evaluation sets, the one most trials used)"
    return Baseline(task_key(task), MAJORITY, float(chosen[schema.MAJORITY_SCORE]), where)


def recorded_majority(task: Any, recorded: Any) -> Baseline | None:
    """The majority baseline of ``task`` from what the experiments gave: a measured
    :class:`Baseline`, a number recorded in ``experiment.json``, or nothing (the table)."""
    if isinstance(recorded, Baseline):
        return recorded._replace(task=str(task))
    return majority_baseline(task, {} if recorded is None else {MAJORITY_SCORE_KEY: recorded})


def teacher_baseline(location: Any, info: Mapping[str, Any], task: Any,
                     model: Any = None) -> Baseline | None:
    """The CAP teacher's score for this experiment, or None (not a CAP sweep, not found).

    Looks at ``info`` (:data:`TEACHER_SCORE_KEY`, then :data:`TEACHER_PATH_KEY` or the
    ``teacher_path`` setting), then at the teacher artifacts under the storage root
    (``settings.storage_root``, else the experiment's parent folder) whose ``metrics.json``
    records this task, model and training data.
    """
    name = task_key(task)
    value = info.get(TEACHER_SCORE_KEY)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return Baseline(name, TEACHER, float(value), f"experiment.json {TEACHER_SCORE_KEY}")
    settings = info.get("settings") if isinstance(info.get("settings"), Mapping) else {}
    path = info.get(TEACHER_PATH_KEY) or settings.get("teacher_path")
    if path:
        record = _read_metrics(Path(str(path)) / "metrics.json")
        if record is not None:
            return Baseline(name, TEACHER, record[0], f"teacher {path}")
        return None
    if info.get("trainable") not in (None, "cap"):
        return None
    root = settings.get("storage_root")
    local = getattr(location, "path", None) if not isinstance(location, (str, Path)) \
        else str(location)
    folders = [Path(str(root))] if root else []
    if local and "://" not in str(local):
        folders.append(Path(str(local)).expanduser().resolve().parent)
    found = _matching_teachers(folders, name, model or settings.get("model"), settings)
    if not found:
        return None
    score, where = max(found, key=lambda item: item[2])[:2]
    note = f" (newest of {len(found)} matching teachers)" if len(found) > 1 else ""
    return Baseline(name, TEACHER, score, f"teacher artifact {where}{note}")


def _read_metrics(path: Path) -> tuple[float, dict[str, Any]] | None:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    score = record.get("metrics", {}).get(schema.SCORE) if isinstance(record, dict) else None
    if not isinstance(score, (int, float)) or score != score:
        return None
    return float(score), record.get("config", {}) or {}


#: Settings a teacher shares with the CAP trials that use it (``trainables.cap.teacher``).
_SHARED_SETTINGS = ("synthetic_data", "max_train_examples", "max_eval_examples",
                    "subset_seed", "max_seq_length", "data_dir")


def _matching_teachers(roots: Iterable[Path], task: str, model: Any,
                       settings: Mapping[str, Any]) -> list[tuple[float, str, float]]:
    found: dict[str, tuple[float, str, float]] = {}
    for root in roots:
        for metrics in sorted((root / "_artifacts" / "teacher").glob("*/metrics.json")):
            record = _read_metrics(metrics)
            if record is None:
                continue
            score, config = record
            if task_key(config.get("task", "")) != task:
                continue
            if model is not None and config.get("model") not in (None, model):
                continue
            if any(k in settings and k in config and settings[k] != config[k]
                   for k in _SHARED_SETTINGS):
                continue
            where = str(metrics.parent)
            found[where] = (score, where, metrics.stat().st_mtime)
    return list(found.values())
