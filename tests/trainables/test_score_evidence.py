"""Each score's evidence (trainables.score_evidence): rows, labels, majority, se, collapse."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from trainables.score_evidence import (
    BOOTSTRAP_RESAMPLES, is_collapsed, majority_score, score_evidence, score_standard_error,
)
from trainables.tasks import compute_metrics, get_task


def _sample(task, n, rng, right=0.75):
    if task.is_regression:
        gold = rng.uniform(0, 5, n)
        return gold + rng.normal(0, 1.5, n), gold
    gold = rng.integers(0, task.num_labels, n)
    noise = rng.integers(0, task.num_labels, n)
    return np.where(rng.random(n) < right, gold, noise), gold


def test_accuracy_se_is_the_binomial_one():
    # 200 rows at 0.75: the README's "about 3 points" is sqrt(.75 * .25 / 200) = 0.0306.
    gold = np.ones(200, dtype=np.int64)
    pred = np.array([1] * 150 + [0] * 50)
    assert score_standard_error(get_task("sst2"), pred, gold) == pytest.approx(
        math.sqrt(0.75 * 0.25 / 200))


@pytest.mark.parametrize("name", ["qqp", "mrpc", "cola", "stsb"])
def test_bootstrap_se_agrees_with_a_plain_bootstrap_over_compute_metrics(name):
    task, rng = get_task(name), np.random.default_rng(3)
    pred, gold = _sample(task, 300, rng)
    fast = score_standard_error(task, pred, gold)
    draws = []
    for _ in range(BOOTSTRAP_RESAMPLES):
        pick = rng.integers(0, len(gold), len(gold))
        draws.append(compute_metrics(task, pred[pick], gold[pick])["score"])
    slow = float(np.std(draws, ddof=1))
    # Two bootstraps of 500 resamples each know the se to ~3%: 15% is far outside that.
    assert fast == pytest.approx(slow, rel=0.15), (fast, slow)
    assert fast == score_standard_error(task, pred, gold)  # seeded: the same row every time


def test_se_shrinks_with_the_rows_it_rests_on():
    task, rng = get_task("qqp"), np.random.default_rng(0)
    small = score_standard_error(task, *_sample(task, 200, rng))
    large = score_standard_error(task, *_sample(task, 3200, rng))
    assert large == pytest.approx(small / 4, rel=0.25)  # 16x the rows: a quarter of the se


def test_majority_score_under_each_tasks_metric():
    assert majority_score(get_task("rte"), [0, 0, 0, 1]) == pytest.approx(0.75)
    assert majority_score(get_task("stsb"), [0.5, 4.0]) == 0.0
    assert majority_score(get_task("cola"), [1, 1, 0]) == 0.0  # MCC of a constant
    # QQP's score averages F1: answering "duplicate" scores F1 > 0, "not duplicate" F1 = 0.
    assert majority_score(get_task("mrpc"), [1, 1, 0]) == pytest.approx((2 / 3 + 0.8) / 2)
    assert majority_score(get_task("qqp"), [0, 0, 1]) == pytest.approx((2 / 3 + 0.0) / 2)


def test_a_constant_predictor_is_collapsed_and_a_learned_one_is_not():
    task, rng = get_task("sst2"), np.random.default_rng(1)
    gold = rng.integers(0, 2, 200)
    constant = score_evidence(task, np.zeros(200, dtype=np.int64), gold)
    assert constant["collapsed"] and constant["eval_examples"] == 200
    counts = json.loads(constant["eval_label_counts"])
    assert sum(counts.values()) == 200 and set(counts) == {"0", "1"}
    learned = score_evidence(task, np.where(rng.random(200) < 0.85, gold, 1 - gold), gold)
    assert not learned["collapsed"]
    # within noise of the majority: 2 se above it is still a collapse, 3 se is not
    assert is_collapsed(0.55, 0.5, 0.03) and not is_collapsed(0.6, 0.5, 0.03)


def test_regression_rows_have_no_label_counts():
    task, rng = get_task("stsb"), np.random.default_rng(2)
    row = score_evidence(task, *_sample(task, 50, rng))
    assert row["eval_label_counts"] is None and row["majority_score"] == 0.0
    assert row["score_se"] > 0 and not row["collapsed"]
