"""What a score rests on, measured on the rows it was computed from.

Every evaluation row carries, beside its ``score``:

- ``eval_examples``: how many rows the score rests on;
- ``eval_label_counts``: their gold labels, counted (JSON ``{"label id": count}``; null for
  regression);
- ``majority_score``: the score of always answering the most frequent of those labels, under the
  task's own metric (0 for correlations, where a constant prediction has none);
- ``score_se``: the standard error of the score. Exact (binomial) where the score is an
  accuracy; otherwise a bootstrap over the evaluated rows (:data:`BOOTSTRAP_RESAMPLES`
  resamples, seeded, so a row is reproducible), computed from per-row weights in a few matrix
  products, cheap next to the evaluation itself;
- ``collapsed``: the score is within noise of the majority score (``score - majority_score <=
  COLLAPSE_Z * score_se``): a constant predictor, not a data point.

numpy only (scikit-learn and scipy are not needed for the bootstrap), no torch.

Example:
    >>> from trainables.tasks import get_task
    >>> row = score_evidence(get_task("sst2"), [0, 0, 1, 1], [0, 1, 1, 1])
    >>> row["eval_examples"], row["majority_score"], round(row["score_se"], 4), row["collapsed"]
    (4, 0.75, 0.2165, True)
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np

from trainables import report_keys as K
from trainables.tasks import TaskSpec, as_predictions, compute_metrics

#: Bootstrap resamples for non-accuracy scores: the se itself is then known to about
#: 1 / sqrt(2 * 500) = 3% of its value.
BOOTSTRAP_RESAMPLES = 500
BOOTSTRAP_SEED = 0
#: A score less than this many standard errors above the majority score is a collapse.
COLLAPSE_Z = 2.0
_CHUNK = 100  # resamples per matrix product: 100 x rows weights stay small (QQP dev: 16 MB)


def majority_score(task: TaskSpec, labels: Any) -> float:
    """The score of always predicting the most frequent class (0 for regression: a constant
    prediction has no correlation). Ties go to the lower class id."""
    gold = np.asarray(labels)
    if task.is_regression or not len(gold):
        return 0.0
    majority = int(np.bincount(gold.astype(np.int64), minlength=task.num_labels).argmax())
    return compute_metrics(task, np.full(len(gold), majority, dtype=np.int64), gold)["score"]


def label_counts(task: TaskSpec, labels: Any) -> str | None:
    """The gold labels counted, as JSON (``{"0": 133, "1": 123}``); None for regression."""
    if task.is_regression:
        return None
    counts = np.bincount(np.asarray(labels).astype(np.int64), minlength=task.num_labels)
    return json.dumps({str(label): int(n) for label, n in enumerate(counts)})


def binomial_se(accuracy: float, rows: int) -> float:
    """The standard error of an accuracy measured on ``rows`` rows: ``sqrt(p(1-p)/n)``."""
    p = min(max(float(accuracy), 0.0), 1.0)
    return math.sqrt(p * (1.0 - p) / rows) if rows > 0 else float("nan")


def score_standard_error(task: TaskSpec, predictions: Any, labels: Any) -> float:
    """Standard error of ``compute_metrics(task, predictions, labels)["score"]``."""
    gold = np.asarray(labels)
    pred = as_predictions(task, np.asarray(predictions), len(gold))
    n = len(gold)
    if tuple(task.primary) == ("accuracy",):
        return binomial_se(float(np.mean(pred == gold)), n)
    if n < 2:
        return float("nan")
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    scores = []
    for start in range(0, BOOTSTRAP_RESAMPLES, _CHUNK):
        size = min(_CHUNK, BOOTSTRAP_RESAMPLES - start)
        picks = rng.integers(0, n, size=(size, n)) + n * np.arange(size)[:, None]
        weights = np.bincount(picks.ravel(), minlength=size * n).reshape(size, n)
        weights = weights.astype(np.float64)
        per_metric = [_WEIGHTED[m](weights, pred, gold, task) for m in task.primary]
        scores.append(np.mean(per_metric, axis=0))
    return float(np.std(np.concatenate(scores), ddof=1))


def is_collapsed(score: float, majority: float, se: float) -> bool:
    """Whether ``score`` is within noise of the majority-class ``majority``."""
    noise = COLLAPSE_Z * se if se == se else 0.0  # a NaN se: judge the difference alone
    return bool(score - majority <= noise)


def score_evidence(task: TaskSpec, predictions: Any, labels: Any) -> dict[str, Any]:
    """The evidence columns of one evaluation (see the module docstring)."""
    gold = np.asarray(labels)
    score = compute_metrics(task, predictions, gold)[K.SCORE]
    majority = majority_score(task, gold)
    se = score_standard_error(task, predictions, gold)
    return {K.EVAL_EXAMPLES: int(len(gold)), K.EVAL_LABEL_COUNTS: label_counts(task, gold),
            K.MAJORITY_SCORE: majority, K.SCORE_SE: se,
            K.COLLAPSED: is_collapsed(score, majority, se)}


# -- weighted metrics: one bootstrap resample per row of `weights` ---------------------------


def _share(weights: np.ndarray, hit: np.ndarray) -> np.ndarray:
    return weights @ hit.astype(np.float64)


def _accuracy(weights, pred, gold, task) -> np.ndarray:
    return _share(weights, pred == gold) / weights.sum(axis=1)


def _f1(weights, pred, gold, task) -> np.ndarray:
    # GLUE's F1: the binary F1 of class 1; no positives at all -> 0 (as compute_metrics).
    tp = _share(weights, (pred == 1) & (gold == 1))
    fp = _share(weights, (pred == 1) & (gold != 1))
    fn = _share(weights, (pred != 1) & (gold == 1))
    denominator = 2 * tp + fp + fn
    return np.divide(2 * tp, denominator, out=np.zeros_like(tp), where=denominator > 0)


def _mcc(weights, pred, gold, task) -> np.ndarray:
    # The multi-class MCC from weighted confusion totals (Gorodkin's R_K); 0 where undefined.
    total = weights.sum(axis=1)
    correct = _share(weights, pred == gold)
    classes = range(task.num_labels)
    predicted = np.stack([_share(weights, pred == k) for k in classes], axis=1)
    true = np.stack([_share(weights, gold == k) for k in classes], axis=1)
    numerator = correct * total - (predicted * true).sum(axis=1)
    denominator = np.sqrt((total ** 2 - (predicted ** 2).sum(axis=1))
                          * (total ** 2 - (true ** 2).sum(axis=1)))
    return np.divide(numerator, denominator, out=np.zeros_like(numerator),
                     where=denominator > 0)


def _weighted_pearson(weights: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    total = weights.sum(axis=1)
    mx, my = weights @ x / total, weights @ y / total
    cov = weights @ (x * y) / total - mx * my
    vx = weights @ (x * x) / total - mx ** 2
    vy = weights @ (y * y) / total - my ** 2
    denominator = np.sqrt(np.clip(vx, 0, None) * np.clip(vy, 0, None))
    return np.divide(cov, denominator, out=np.zeros_like(cov), where=denominator > 1e-12)


def _pearson(weights, pred, gold, task) -> np.ndarray:
    return _weighted_pearson(weights, pred.astype(np.float64), gold.astype(np.float64))


def _ranks(values: np.ndarray) -> np.ndarray:
    """Average ranks (ties share their mean rank), as scipy's spearmanr uses."""
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse, weights=ranks)
    return sums[inverse] / counts[inverse]


def _spearman(weights, pred, gold, task) -> np.ndarray:
    # Pearson of the full sample's ranks under each resample's weights: the standard
    # weighted-bootstrap approximation (re-ranking every resample would only move ties).
    return _weighted_pearson(weights, _ranks(pred.astype(np.float64)),
                             _ranks(gold.astype(np.float64)))


_WEIGHTED = {"accuracy": _accuracy, "f1": _f1, "mcc": _mcc, "pearson": _pearson,
             "spearman": _spearman}
