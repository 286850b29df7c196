"""A corrupt consolidated file does not drop its trial: its per-row files are read instead."""

from __future__ import annotations

import warnings

import pytest

from analysis import schema
from analysis.io import read_experiment
from analysis.io import read_results

TRIALS = [{"trial_id": "a", "score": 0.8, "weight_sparsity": 0.5, "iterations": 3},
          {"trial_id": "b", "score": 0.7, "weight_sparsity": 0.9, "iterations": 2}]


@pytest.fixture
def corrupt(make_experiment):
    exp = make_experiment("exp", TRIALS, method="cap-soft", task="qqp")
    # what the writer adds when trial a ends, then damaged (a full disk, a bad copy)
    (exp / "results" / "a-upto000003.parquet").write_bytes(b"PAR1 truncated")
    return exp


@pytest.mark.parametrize("latest_only", [False, True])
def test_read_experiment_falls_back_to_the_row_files(corrupt, latest_only):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows = read_experiment(str(corrupt), latest_only=latest_only)
    assert set(rows[schema.TRIAL_ID]) == {"a", "b"}
    final_a = rows[(rows[schema.TRIAL_ID] == "a") & rows[schema.IS_FINAL]]
    assert final_a[schema.SCORE].tolist() == [0.8]
    if not latest_only:
        assert sorted(rows[rows[schema.TRIAL_ID] == "a"][schema.ITERATION]) == [1, 2, 3]
    assert any("a-upto000003.parquet" in str(w.message) and "per-row files instead"
               in str(w.message) for w in caught)


def test_read_results_falls_back_to_the_row_files(corrupt):
    with pytest.warns(UserWarning, match="per-row files instead"):
        rows = read_results(corrupt)
    assert sorted(rows[rows[schema.TRIAL_ID] == "a"][schema.ITERATION]) == [1, 2, 3]


def test_strict_still_raises(corrupt):
    with pytest.raises(schema.SchemaError, match="a-upto000003"):
        read_experiment(str(corrupt), strict=True)
