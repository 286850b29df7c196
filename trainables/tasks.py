"""The GLUE task table and the GLUE metrics.

One :class:`TaskSpec` per task says where its data lives (the ``nyu-mll/glue`` config and the
GLUE_DATA folder), which text columns and labels it has, which splits are evaluated and which
metrics make up its primary ``score`` (the column the result schema ranks trials by). Two toy
tasks, shaped like SST-2 and MRPC, run on generated data (see :mod:`trainables.toy`).

What a task *is* (metrics, primary metrics, label names, regression, chance level) is
:mod:`facts.tasks`' (the analysis reads the same facts); this table adds where the data lives
and how it is read. This module imports neither torch nor transformers, so search spaces and
the CLI can read the table cheaply.

Example:
    >>> task = get_task("SST-2")
    >>> task.name, task.num_labels, task.is_pair
    ('sst2', 2, False)
    >>> compute_metrics(task, [[0.1, 0.9], [2.0, -1.0]], [1, 1])["score"]
    0.5
"""

from __future__ import annotations

import difflib
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from facts.columns import SCORE
from facts.tasks import METRICS, TASK_FACTS, TaskFacts, normalise


class UnknownTaskError(ValueError):
    """A task name that is not in :data:`TASKS`."""


@dataclass(frozen=True)
class TaskSpec:
    """One GLUE (or toy) task.

    Args:
        name: canonical name, the key in :data:`TASKS` (``"sst2"``, ``"mnli"``, ...).
        hf_config: the config of ``nyu-mll/glue`` (None for toy tasks).
        tsv_dir: the task's folder in the original GLUE_DATA layout (None for toy tasks).
        text_fields: the Hugging Face column names of the one or two texts.
        label_names: class names in the order of the Hugging Face integer labels; empty for
            the STS-B regression.
        eval_splits: the splits evaluated; the first one gives ``score``.
        metrics: the metrics :func:`compute_metrics` reports for this task.
        primary: the metrics whose mean is the task's ``score`` (GLUE's primary metric).

    Example:
        >>> TASKS["mnli"].label_names
        ('entailment', 'neutral', 'contradiction')
    """

    name: str
    hf_config: str | None
    tsv_dir: str | None
    text_fields: tuple[str, ...]
    label_names: tuple[str, ...]
    eval_splits: tuple[str, ...] = ("validation",)
    metrics: tuple[str, ...] = ("accuracy",)
    primary: tuple[str, ...] = ("accuracy",)

    def __post_init__(self) -> None:
        if len(self.text_fields) not in (1, 2):
            raise ValueError(
                f"`text_fields` must name 1 or 2 columns, but got {self.text_fields=}."
            )
        unknown = sorted(set(self.metrics) - set(METRICS))
        if unknown:
            raise ValueError(f"`metrics` must be among {METRICS}, but got {unknown}.")
        if not self.primary or not set(self.primary) <= set(self.metrics):
            raise ValueError(
                f"`primary` must be a non-empty subset of `metrics`, but got "
                f"{self.primary=} with {self.metrics=}."
            )
        if not self.eval_splits:
            raise ValueError(f"`eval_splits` must not be empty, but got {self.eval_splits=}.")

    @property
    def facts(self) -> TaskFacts:
        """What this task is (metrics, labels): the rules of :mod:`facts.tasks` apply."""
        return TaskFacts(self.name, self.label_names, self.metrics, self.primary)

    @property
    def num_labels(self) -> int:
        """Classes of a classifier head; 1 for regression (STS-B)."""
        return self.facts.num_labels

    @property
    def is_pair(self) -> bool:
        return len(self.text_fields) == 2

    @property
    def is_regression(self) -> bool:
        return self.facts.is_regression

    @property
    def is_toy(self) -> bool:
        """Toy tasks always run on generated data."""
        return self.hf_config is None

    @property
    def chance_score(self) -> float:
        """The ``score`` of a constant or random predictor (:attr:`TaskFacts.chance_score`)."""
        return self.facts.chance_score


def _spec(name: str, hf_config: str | None, tsv_dir: str | None,
          text_fields: tuple[str, ...], **splits: Any) -> TaskSpec:
    """The task ``name`` of :data:`facts.tasks.TASK_FACTS` with where its data lives."""
    facts = TASK_FACTS[name]
    return TaskSpec(name, hf_config, tsv_dir, text_fields, facts.label_names,
                    metrics=facts.metrics, primary=facts.primary, **splits)


TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        _spec("cola", "cola", "CoLA", ("sentence",)),
        _spec("sst2", "sst2", "SST-2", ("sentence",)),
        _spec("mrpc", "mrpc", "MRPC", ("sentence1", "sentence2")),
        _spec("qqp", "qqp", "QQP", ("question1", "question2")),
        _spec("stsb", "stsb", "STS-B", ("sentence1", "sentence2")),
        _spec("mnli", "mnli", "MNLI", ("premise", "hypothesis"),
              eval_splits=("validation_matched", "validation_mismatched")),
        _spec("qnli", "qnli", "QNLI", ("question", "sentence")),
        _spec("rte", "rte", "RTE", ("sentence1", "sentence2")),
        _spec("toy_single", None, None, ("sentence",)),
        _spec("toy_pair", None, None, ("sentence1", "sentence2")),
    )
}


_BY_KEY: dict[str, str] = {}
for _task in TASKS.values():
    for _alias in (_task.name, _task.hf_config, _task.tsv_dir):
        if _alias:
            _BY_KEY[normalise(_alias)] = _task.name


def get_task(name: str) -> TaskSpec:
    """The task called ``name``, accepting case and punctuation variants.

    Raises:
        UnknownTaskError: ``name`` is not a task; the message lists the valid names and the
            closest match.

    Example:
        >>> get_task("STS-B").name
        'stsb'
    """
    if not isinstance(name, str):
        raise UnknownTaskError(f"task name must be a string, but got {name!r}")
    found = _BY_KEY.get(normalise(name))
    if found is not None:
        return TASKS[found]
    close = difflib.get_close_matches(normalise(name), list(_BY_KEY), n=1, cutoff=0.5)
    hint = f" Did you mean {_BY_KEY[close[0]]!r}?" if close else ""
    raise UnknownTaskError(
        f"unknown task {name!r}; valid tasks are {', '.join(TASKS)}.{hint}"
    )


# -- metrics ------------------------------------------------------------------------------


def compute_metrics(task: TaskSpec, predictions: Any, labels: Any) -> dict[str, float]:
    """The task's GLUE metrics and its primary ``score``.

    Args:
        task: the task (its ``metrics`` and ``primary`` decide the keys).
        predictions: logits ``[N, C]`` (or predicted class ids ``[N]``) for classification;
            values ``[N]`` or ``[N, 1]`` for regression. Lists, numpy arrays and CPU tensors
            all work.
        labels: gold class ids ``[N]`` or gold values ``[N]``.

    Returns:
        ``{metric: value}`` for each of ``task.metrics`` plus ``score``, all plain floats.
        MCC and correlations of constant predictions (or labels) are 0.0, not NaN.

    Example:
        >>> compute_metrics(get_task("cola"), [1, 1, 1], [0, 1, 1])
        {'mcc': 0.0, 'accuracy': 0.6666666666666666, 'score': 0.0}
    """
    gold = np.asarray(labels)
    pred = as_predictions(task, np.asarray(predictions), len(gold))
    values = {metric: _METRIC_FNS[metric](pred, gold) for metric in task.metrics}
    values[SCORE] = float(np.mean([values[m] for m in task.primary]))
    return values


def as_predictions(task: TaskSpec, predictions: np.ndarray, n: int) -> np.ndarray:
    """Predicted class ids (classification) or values (regression), checked against ``n``."""
    if n == 0:
        raise ValueError("compute_metrics needs at least one example, but got 0 labels.")
    if task.is_regression:
        if predictions.ndim == 2 and predictions.shape[1] == 1:
            predictions = predictions[:, 0]
        if predictions.ndim != 1:
            raise ValueError(
                f"regression predictions must have shape [N] or [N, 1], but got "
                f"{predictions.shape} for task {task.name!r}."
            )
        out = predictions.astype(np.float64)
    elif predictions.ndim == 2:
        if predictions.shape[1] != task.num_labels:
            raise ValueError(
                f"logits must have {task.num_labels} columns for task {task.name!r}, but got "
                f"shape {predictions.shape}."
            )
        out = predictions.argmax(axis=1)
    elif predictions.ndim == 1 and np.issubdtype(predictions.dtype, np.integer):
        out = predictions
    else:
        raise ValueError(
            f"classification predictions must be logits [N, C] or integer class ids [N], but "
            f"got shape {predictions.shape} and dtype {predictions.dtype} for {task.name!r}."
        )
    if len(out) != n:
        raise ValueError(f"got {len(out)} predictions for {n} labels; they must match.")
    return out


def _accuracy(pred: np.ndarray, gold: np.ndarray) -> float:
    return float(np.mean(pred == gold))


def _f1(pred: np.ndarray, gold: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    # GLUE's F1 is the binary F1 of class 1 (paraphrase / duplicate); no positives -> 0.
    return float(f1_score(gold, pred, pos_label=1, average="binary", zero_division=0.0))


def _is_constant(values: np.ndarray) -> bool:
    return bool(np.all(values == values[0]))


def _mcc(pred: np.ndarray, gold: np.ndarray) -> float:
    from sklearn.metrics import matthews_corrcoef

    # MCC is 0/0 when either side is constant; define it as 0 (no better than chance).
    if _is_constant(pred) or _is_constant(gold):
        return 0.0
    return float(matthews_corrcoef(gold, pred))


def _correlation(kind: str, pred: np.ndarray, gold: np.ndarray) -> float:
    from scipy import stats

    # A constant side makes the correlation undefined (scipy warns and returns NaN).
    if len(pred) < 2 or _is_constant(pred) or _is_constant(gold):
        return 0.0
    fn = stats.pearsonr if kind == "pearson" else stats.spearmanr
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # near-constant inputs: scipy warns but still answers
        value = float(fn(pred, gold)[0])
    return 0.0 if np.isnan(value) else value


_METRIC_FNS = {
    "accuracy": _accuracy,
    "f1": _f1,
    "mcc": _mcc,
    "pearson": lambda p, g: _correlation("pearson", p, g),
    "spearman": lambda p, g: _correlation("spearman", p, g),
}

