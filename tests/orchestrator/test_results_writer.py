"""The Parquet writer: atomic one-row files, no duplicates, consolidated finished trials."""

from __future__ import annotations

import pytest

from analysis import schema as S
from analysis.io import list_result_files
from analysis.io import read_results
from analysis.layout import collapse_consolidated
from orchestrator.results import (
    UnknownReportKeyError, build_row, consolidate_trial, result_file, write_rows_atomic,
)
from orchestrator.storage import open_storage


def _row(trial: str, iteration: int, final: bool = False) -> dict:
    result = {"training_iteration": iteration, "step": iteration * 10, "epoch": 0.1,
              "elapsed_s": 1.0, "is_final": final, "score": 0.5 + iteration / 100,
              "weight_sparsity": 0.0, "head_sparsity": 0.0, "method": "dense",
              "task": "sst2", "model": "tiny", "seed": 1}
    identity = {"experiment": "e", "space": "dense_sst2", "profile": "smoke"}
    return build_row(result, {"learning_rate": 3e-5}, identity, ["learning_rate"], trial)


def test_a_row_is_written_once_even_if_reported_again(tmp_path):
    storage = open_storage(str(tmp_path))
    path = result_file(str(tmp_path), "t1", 1)
    assert write_rows_atomic(storage, path, [_row("t1", 1)])
    assert not write_rows_atomic(storage, path, [_row("t1", 1)])  # a restored trial re-reports
    assert [p.name for p in tmp_path.iterdir()] == ["t1-it000001.parquet"]


def test_build_row_carries_identity_params_and_status():
    row = _row("t9", 3, final=True)
    assert row[S.TRIAL_ID] == "t9" and row[S.ITERATION] == 3
    assert row[S.STATUS] == S.STATUS_COMPLETED and row[S.IS_FINAL] is True
    assert row[S.param_column("learning_rate")] == 3e-5
    assert row[S.EXPERIMENT] == "e"


def test_build_row_refuses_a_key_that_is_neither_a_column_nor_a_declared_extra():
    result = {"training_iteration": 1, "step": 4, "score": 0.5, "weight_sparsty": 0.3,
              "time_this_iter_s": 0.1, "config": {}, "total_steps": 8}  # Tune's keys pass
    with pytest.raises(UnknownReportKeyError, match="'weight_sparsty'"):
        build_row(result, {}, {}, [], "t1")
    del result["weight_sparsty"]
    assert build_row(result, {}, {}, [], "t1")[S.STEP] == 4


def test_consolidated_trial_is_read_instead_of_its_row_files(tmp_path):
    storage = open_storage(str(tmp_path))
    results = tmp_path / "results"
    results.mkdir()
    for i in (1, 2, 3):
        write_rows_atomic(storage, result_file(str(results), "done", i),
                          [_row("done", i, final=i == 3)])
    write_rows_atomic(storage, result_file(str(results), "live", 1), [_row("live", 1)])
    consolidated = consolidate_trial(storage, str(results), "done")
    assert consolidated.endswith("/done-upto000003.parquet")
    files = [p.rsplit("/", 1)[-1] for p in collapse_consolidated(list_result_files(tmp_path))]
    assert files == ["done-upto000003.parquet", "live-it000001.parquet"]
    df = read_results(tmp_path, strict=True)
    assert sorted(zip(df[S.TRIAL_ID], df[S.ITERATION])) == [
        ("done", 1), ("done", 2), ("done", 3), ("live", 1)]
    # Per-row files are kept (append-only): nothing was deleted.
    assert len(list(results.glob("done-it*.parquet"))) == 3
