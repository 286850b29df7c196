"""Refactors of the trainables change no result row: every golden case re-run and compared.

The golden rows were recorded on the code before the refactor (``golden_rows.py`` says how
and why the tolerance is what it is); a difference names the report, the column and both
values.
"""

from __future__ import annotations

import json

import pytest

from tests.trainables.golden_rows import GOLDEN, cases, differences, run_rows

GOLDEN_CASES = json.loads(GOLDEN.read_text())


@pytest.mark.parametrize("name", sorted(GOLDEN_CASES))
def test_rows_equal_the_golden_rows(name, tmp_path):
    golden = GOLDEN_CASES[name]
    rows = run_rows(golden["trainable"], golden["config"], tmp_path)
    assert differences(rows, golden["rows"]) == []


def test_golden_configs_are_still_the_smoke_profiles():
    """The golden configs are what the smoke profile gives today (else re-record them)."""
    current = {name: config for name, (_, _, config) in cases().items()}
    assert current == {name: case["config"] for name, case in GOLDEN_CASES.items()}


def test_a_changed_computation_is_caught(tmp_path):
    """The tolerance is tight enough: a learning rate 1% off moves the rows past it."""
    golden = GOLDEN_CASES["dense-trained"]
    config = {**golden["config"],
              "learning_rate": golden["config"]["learning_rate"] * 1.01}
    assert differences(run_rows(golden["trainable"], config, tmp_path), golden["rows"])
