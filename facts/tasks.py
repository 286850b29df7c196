"""What each task is, as every layer states it: metrics, labels, regression, chance, majority.

The training side (:mod:`trainables.tasks`, which adds where the data lives and how it is
tokenised) and the analysis side (:mod:`analysis.baselines`, :mod:`analysis.hypervolume`)
both read these facts, so the task's metric, its number of labels and the rule for its
chance and majority-class scores cannot drift apart.

Example:
    >>> facts = TASK_FACTS["mnli"]
    >>> facts.num_labels, facts.is_regression, round(facts.chance_score, 4)
    (3, False, 0.3333)
    >>> task_key("STS-B"), TASK_FACTS[task_key("STS-B")].primary
    ('stsb', ('pearson', 'spearman'))
    >>> majority_class_score("qqp", {0: 25545, 1: 14885})
    0.3159163987138264
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from facts.columns import ACCURACY, F1, MCC, PEARSON, SPEARMAN

#: Every metric a task can report (each is also a result column).
METRICS = (ACCURACY, F1, MCC, PEARSON, SPEARMAN)
#: Metrics whose value for a constant predictor is 0 (undefined correlations count as 0).
CORRELATIONS = (MCC, PEARSON, SPEARMAN)


@dataclass(frozen=True)
class TaskFacts:
    """One task's metric and labels.

    Args:
        name: the canonical name (``"sst2"``, ``"mnli"``, ...).
        label_names: class names in the order of the integer labels; empty for regression.
        metrics: the metrics reported for this task.
        primary: the metrics whose mean is the task's ``score`` (GLUE's primary metric).
    """

    name: str
    label_names: tuple[str, ...]
    metrics: tuple[str, ...] = (ACCURACY,)
    primary: tuple[str, ...] = (ACCURACY,)

    @property
    def num_labels(self) -> int:
        """Classes of a classifier head; 1 for regression (STS-B)."""
        return len(self.label_names) or 1

    @property
    def is_regression(self) -> bool:
        return not self.label_names

    @property
    def chance_score(self) -> float:
        """The ``score`` of a constant or random predictor, a floor for sanity checks.

        0 where the score is a correlation (MCC, Pearson/Spearman); otherwise the accuracy of
        a uniform random guess, ``1 / num_labels`` (0.5 for the binary tasks, including MRPC
        and QQP whose score also averages in F1, 1/3 for MNLI). Deliberately simple: a
        majority-class predictor does better on skewed tasks (:func:`majority_class_score`).
        """
        if set(CORRELATIONS) & set(self.primary):
            return 0.0
        return 1.0 / self.num_labels


def _binary(name: str, label_names: tuple[str, str], *, with_f1: bool = False) -> TaskFacts:
    metrics = (ACCURACY, F1) if with_f1 else (ACCURACY,)
    return TaskFacts(name, label_names, metrics=metrics, primary=metrics)


# Label orders are those of the `nyu-mll/glue` ClassLabel features, so that integer labels
# read from Parquet and text labels read from GLUE_DATA TSVs agree.
_ENTAIL = ("entailment", "not_entailment")
TASK_FACTS: dict[str, TaskFacts] = {
    facts.name: facts
    for facts in (
        TaskFacts("cola", ("unacceptable", "acceptable"), metrics=(MCC, ACCURACY),
                  primary=(MCC,)),
        _binary("sst2", ("negative", "positive")),
        _binary("mrpc", ("not_equivalent", "equivalent"), with_f1=True),
        _binary("qqp", ("not_duplicate", "duplicate"), with_f1=True),
        TaskFacts("stsb", (), metrics=(PEARSON, SPEARMAN), primary=(PEARSON, SPEARMAN)),
        TaskFacts("mnli", ("entailment", "neutral", "contradiction")),
        _binary("qnli", _ENTAIL),
        _binary("rte", _ENTAIL),
        _binary("toy_single", ("negative", "positive")),
        _binary("toy_pair", ("not_equivalent", "equivalent"), with_f1=True),
    )
}


def normalise(name: str) -> str:
    """``"SST-2"``, ``"sst_2"`` and ``"Sst2"`` all give ``"sst2"`` (toy names lose their ``_``)."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


_BY_KEY = {normalise(name): name for name in TASK_FACTS}


def task_key(task: Any) -> str:
    """The canonical task name (``"SST-2"`` -> ``"sst2"``); an unknown one lower-cased."""
    text = str(task).lower()
    return _BY_KEY.get(normalise(text), text)


def facts_of(task: Any) -> TaskFacts | None:
    """The facts of ``task`` (case and punctuation ignored), or None for an unknown task."""
    return TASK_FACTS.get(task_key(task)) if isinstance(task, str) else None


def majority_class_score(task: Any, label_counts: Mapping[Any, int]) -> float:
    """The task's ``score`` of always predicting the most frequent label.

    Accuracy is that label's share; F1 (positive label 1) is ``2p / (1 + p)`` when the
    majority is the positive label and 0 otherwise (no positive prediction); MCC and the
    correlations of a constant are 0. The score is the mean of the task's primary metrics;
    ties go to the lower label.

    Raises:
        ValueError: no labels, or a task whose metric is unknown.
    """
    facts = facts_of(str(task))
    if facts is None:
        raise ValueError(f"no metric known for task {task!r}")
    counts = {int(k): int(v) for k, v in label_counts.items()}
    total = sum(counts.values())
    if total <= 0:
        raise ValueError("label counts are empty")
    majority = max(sorted(counts), key=lambda k: counts[k])
    share = counts[majority] / total
    values = {ACCURACY: share, MCC: 0.0, PEARSON: 0.0, SPEARMAN: 0.0,
              F1: 2 * share / (1 + share) if majority == 1 else 0.0}
    return sum(values[m] for m in facts.primary) / len(facts.primary)
