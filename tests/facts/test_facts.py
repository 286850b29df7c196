"""``facts``: the one owner of column names and task facts, read alike by every layer."""

from __future__ import annotations

import doctest
import importlib

import pytest

from facts import columns as C
from facts import targets as T
from facts import tasks as F


@pytest.mark.parametrize("name", ["facts", "facts.columns", "facts.tasks", "facts.targets",
                                  "facts.checkpoints"])
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0


def test_the_training_and_the_analysis_read_the_same_task_facts():
    from analysis.baselines import majority_baseline
    from analysis.hypervolume import CHANCE_LEVELS
    from trainables.tasks import TASKS

    assert set(TASKS) == set(F.TASK_FACTS)
    for name, spec in TASKS.items():
        assert spec.facts == F.TASK_FACTS[name]
        assert CHANCE_LEVELS[name] == spec.chance_score
    assert TASKS["stsb"].is_regression and TASKS["stsb"].num_labels == 1
    # a task with no label counts known falls back to 1/classes, from the same facts
    assert majority_baseline("qnli").score == 1 / TASKS["qnli"].num_labels


def test_majority_class_score_by_the_tasks_metric():
    assert F.majority_class_score("SST-2", {0: 10, 1: 30}) == 0.75
    assert F.majority_class_score("cola", {0: 30, 1: 70}) == 0.0  # MCC of a constant
    with pytest.raises(ValueError, match="no metric known for task 'wnli'"):
        F.majority_class_score("wnli", {0: 1})


def test_target_rules():
    assert T.parse_targets(" 0.9, 0.5") == (0.5, 0.9)
    for bad, rule in (("0.5,,0.9", "no empty entries"), ("x", "not a number"),
                      ("1.5", "outside (0, 1)"), ("0.5,0.5", "given twice")):
        with pytest.raises(ValueError, match=rule.replace("(", r"\(").replace(")", r"\)")):
            T.parse_targets(bad)
    assert T.landed_on(0.5 + T.HIT_TOLERANCE / 2, (0.5, 0.9)) == 0.5
    assert T.landed_on(0.5 + 2 * T.HIT_TOLERANCE, (0.5, 0.9)) is None


def test_every_metric_a_task_reports_is_a_column():
    assert set(F.METRICS) <= set(C.COLUMN_TYPES)
    assert all(set(f.metrics) <= set(F.METRICS) for f in F.TASK_FACTS.values())
