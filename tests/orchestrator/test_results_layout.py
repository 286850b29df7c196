"""The results layout: stock readers of EXP/results read every finished row once.

Per-row files go to ``EXP/_rows/``, each finished trial's consolidated file to
``EXP/results/``; pandas, pyarrow.dataset, duckdb and polars are pointed at ``EXP/results``
as a researcher would, during a sweep (one trial finished, one running) and after it.
"""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from analysis import schema as S
from analysis.io import read_results
from analysis.io import read_experiment
from orchestrator.results import (
    ParquetResultsCallback, build_row, consolidate_trial, result_file, row_folder,
    write_rows_atomic,
)
from orchestrator.storage import open_storage


def _result(iteration: int, final: bool = False) -> dict:
    return {"training_iteration": iteration, "step": iteration * 10, "epoch": 0.1,
            "elapsed_s": float(iteration), "is_final": final, "score": 0.5 + iteration / 100,
            "weight_sparsity": 0.1 * iteration, "head_sparsity": 0.0, "method": "dense",
            "task": "sst2", "model": "tiny", "seed": 1, "time_total_s": 1.0}


def _trial(trial_id: str) -> SimpleNamespace:
    return SimpleNamespace(trial_id=trial_id, config={"learning_rate": 3e-5},
                           last_result=None, status="RUNNING")


def _report(cb: ParquetResultsCallback, trial, iteration: int, final: bool = False) -> None:
    trial.last_result = _result(iteration, final)
    cb.on_trial_result(iteration, [trial], trial, trial.last_result)


def _stock_reads(results) -> dict[str, pd.DataFrame]:
    """EXP/results read the way a researcher's first line does, with four libraries."""
    import duckdb
    import polars as pl
    import pyarrow.dataset as ds

    return {
        "pandas": pd.read_parquet(results),
        "pyarrow.dataset": ds.dataset(results, format="parquet").to_table().to_pandas(),
        "duckdb": duckdb.sql(
            f"SELECT * FROM read_parquet('{results}/*.parquet', union_by_name=true)").df(),
        "duckdb folder": duckdb.sql(f"SELECT * FROM read_parquet('{results}')").df(),
        "polars": pl.read_parquet(results).to_pandas(),
    }


def _keys(df: pd.DataFrame) -> list[tuple[str, int]]:
    return sorted(zip(df[S.TRIAL_ID], df[S.ITERATION].astype(int)))


@pytest.fixture
def callback(tmp_path):
    exp = tmp_path / "exp"
    cb = ParquetResultsCallback(str(tmp_path), str(exp / "results"),
                                {"experiment": "exp", "space": "dense_sst2",
                                 "profile": "smoke"},
                                ["learning_rate"], ["score"], num_samples=2, quiet=True)
    cb.setup()
    (exp / "results").mkdir(parents=True, exist_ok=True)
    return cb, exp


def test_stock_readers_see_each_row_once_during_and_after_a_sweep(callback):
    cb, exp = callback
    done, live = _trial("done0001"), _trial("live0002")
    for i in (1, 2):
        _report(cb, done, i, final=i == 2)
        _report(cb, live, i)
    done.status = "TERMINATED"
    cb.on_trial_complete(2, [done, live], done)

    assert sorted(p.name for p in (exp / "results").iterdir()) == ["done0001-upto000002.parquet"]
    assert len(list((exp / "_rows").glob("*.parquet"))) == 4  # per-row files are kept
    # During the sweep: the finished trial once, the running one not yet.
    for reader, df in _stock_reads(exp / "results").items():
        assert _keys(df) == [("done0001", 1), ("done0001", 2)], reader
    # Our reader also shows the running trial's rows, each once.
    assert _keys(read_experiment(exp)) == [("done0001", 1), ("done0001", 2),
                                           ("live0002", 1), ("live0002", 2)]

    _report(cb, live, 3, final=True)
    live.status = "TERMINATED"
    cb.on_trial_complete(3, [done, live], live)
    expected = [("done0001", 1), ("done0001", 2),
                ("live0002", 1), ("live0002", 2), ("live0002", 3)]
    for reader, df in _stock_reads(exp / "results").items():
        assert _keys(df) == expected, reader
        assert df[S.IS_FINAL].sum() == 2, reader
    assert _keys(read_experiment(exp)) == expected
    assert _keys(read_results(exp, strict=True)) == expected


def test_a_trial_that_runs_again_leaves_one_consolidated_file_in_results(callback):
    cb, exp = callback
    trial = _trial("again001")
    _report(cb, trial, 1)
    cb.on_trial_error(1, [trial], trial)  # failed: terminal row + consolidated upto 2
    assert [p.name for p in (exp / "results").iterdir()] == ["again001-upto000002.parquet"]
    for i in (2, 3):  # `resume` reruns it from its checkpoint
        _report(cb, trial, i, final=i == 3)
    cb.on_trial_complete(3, [trial], trial)
    # The older consolidated file moved beside the per-row files; nothing was deleted.
    assert [p.name for p in (exp / "results").iterdir()] == ["again001-upto000003.parquet"]
    assert (exp / "_rows" / "again001-upto000002.parquet").is_file()
    for reader, df in _stock_reads(exp / "results").items():
        assert not df.duplicated([S.TRIAL_ID, S.ITERATION, S.STATUS]).any(), reader
    df = read_experiment(exp)
    assert not df.duplicated([S.TRIAL_ID, S.ITERATION, S.STATUS]).any()
    assert sorted(df[df[S.IS_FINAL]][S.STATUS]) == [S.STATUS_COMPLETED, S.STATUS_FAILED]


def test_old_layout_is_still_read_and_kept_on_resume(tmp_path):
    """An experiment written before the split: rows and consolidated files in results/."""
    storage = open_storage(str(tmp_path))
    results = tmp_path / "old" / "results"
    results.mkdir(parents=True)
    identity = {"experiment": "old", "space": "dense_sst2", "profile": "smoke"}
    for i in (1, 2):
        row = build_row(_result(i, final=i == 2), {"learning_rate": 1e-5}, identity,
                        ["learning_rate"], "t1")
        write_rows_atomic(storage, result_file(str(results), "t1", i), [row])
    consolidate_trial(storage, str(results), "t1")
    row = build_row(_result(1), {"learning_rate": 1e-5}, identity, ["learning_rate"], "t2")
    write_rows_atomic(storage, result_file(str(results), "t2", 1), [row])

    assert row_folder(storage, str(results)) == str(results)  # a resumed sweep keeps it
    assert _keys(read_experiment(tmp_path / "old")) == [("t1", 1), ("t1", 2), ("t2", 1)]
    assert _keys(read_results(tmp_path / "old")) == [("t1", 1), ("t1", 2), ("t2", 1)]
    # A callback pickled before the split keeps writing where its rows are.
    cb = ParquetResultsCallback.__new__(ParquetResultsCallback)
    cb.__setstate__({"storage_text": str(tmp_path), "results_dir": str(results)})
    assert cb.rows_dir == str(results)
    # A new experiment gets the split layout.
    assert row_folder(storage, str(tmp_path / "new" / "results")) == str(tmp_path / "new"
                                                                          / "_rows")


def test_final_row_records_its_checkpoint_path(callback):
    cb, exp = callback
    trial = _trial("ckpt0001")
    trial.path = str(exp / "dense_sst2_ckpt0001")
    for i in (1, 2):
        result = {**_result(i, final=i == 2), "checkpoint_dir_name": f"checkpoint_00000{i}"}
        cb.on_trial_result(i, [trial], trial, result)
    df = read_experiment(exp).sort_values(S.ITERATION)
    assert df[S.CHECKPOINT_PATH].isna().tolist() == [True, False]
    assert df[S.CHECKPOINT_PATH].iloc[1] == f"{trial.path}/checkpoint_000002"


def test_pinned_values_are_recorded_like_searched_ones():
    from orchestrator.settings import space_named as _space
    from orchestrator.settings import build_settings
    from orchestrator.sweep import recorded_params

    sweep = build_settings(_space("cap_soft_qqp"), "smoke", sets=["final_lambda=4000"])
    params = recorded_params(sweep)
    assert "final_lambda" not in sweep.searched and "final_lambda" in params
    assert params[:len(sweep.searched)] == list(sweep.searched)
    identity = {"experiment": "e", "space": "cap_soft_qqp", "profile": "smoke"}
    config = {**sweep.settings, **{name: 0.5 for name in sweep.searched}}
    row = build_row(_result(1, final=True), config, identity, params, "t1")
    assert row[S.param_column("final_lambda")] == 4000
    assert S.rows_to_table([row]).column(S.param_column("final_lambda"))[0].as_py() == 4000


def test_a_resumed_sweep_restores_its_callbacks_and_keeps_the_layout(ray_local, tmp_path,
                                                                      capsys):
    """Tune pickles the callbacks with its state; `resume` must unpickle them (rows folder,
    progress) and leave each row once in results/ and in _rows/."""
    from orchestrator.cli import main

    args = ["--storage", str(tmp_path)]
    assert main(["launch", "--space", "dense_sst2", "--profile", "smoke", "--num-samples", "2",
                 "--name", "r", "--no-early-stop", *args]) == 0
    assert main(["resume", "r", *args]) == 0
    assert "finished r" in capsys.readouterr().out
    exp = tmp_path / "r"
    df = read_experiment(exp)
    assert not df.duplicated([S.TRIAL_ID, S.ITERATION, S.STATUS]).any()
    assert int(df[S.IS_FINAL].sum()) == 2
    stock = pd.read_parquet(exp / "results")
    assert _keys(stock) == _keys(df)
    assert not list((exp / "results").glob("*-it*.parquet"))  # row files only in _rows/
