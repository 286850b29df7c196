"""A smoke sweep per method stores the rows it stored before the refactor.

Issue 10's "same rows for the same seed" check, through the CLI and Ray (about 30 s a method
on a free 2-core machine, a minute when contended), so it runs in CI with the rest.
"""

from __future__ import annotations

import json

import pytest

from tests.trainables.golden_rows import differences
from tests.trainables.golden_sweeps import GOLDEN, sweep_rows

GOLDEN_SWEEPS = json.loads(GOLDEN.read_text())


@pytest.mark.parametrize("method", sorted(GOLDEN_SWEEPS))
def test_sweep_rows_equal_the_golden_rows(method, ray_local, tmp_path):
    golden = GOLDEN_SWEEPS[method]
    assert differences(sweep_rows(golden["space"], tmp_path), golden["rows"]) == []
