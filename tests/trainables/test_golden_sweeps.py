"""A smoke sweep per method stores the rows it stored before the refactor (slow: Ray).

Run with ``pytest -m slow tests/trainables/test_golden_sweeps.py`` (about a minute a method
on a contended 2-core machine).
"""

from __future__ import annotations

import json

import pytest

from tests.trainables.golden_rows import differences
from tests.trainables.golden_sweeps import GOLDEN, sweep_rows

GOLDEN_SWEEPS = json.loads(GOLDEN.read_text())


@pytest.mark.slow
@pytest.mark.parametrize("method", sorted(GOLDEN_SWEEPS))
def test_sweep_rows_equal_the_golden_rows(method, ray_local, tmp_path):
    golden = GOLDEN_SWEEPS[method]
    assert differences(sweep_rows(golden["space"], tmp_path), golden["rows"]) == []
