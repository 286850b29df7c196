"""Reading experiment folders: validation, skipped files, URIs, clear errors."""

from __future__ import annotations

import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from analysis_fixtures import CAP_TRIALS
from analysis_fixtures import SMP_TRIALS
from analysis_fixtures import trial_rows
from analysis_fixtures import write_experiment

from analysis import io
from analysis import schema
from analysis.errors import AnalysisError


def rows_of(trials) -> int:
    return sum(len(trial_rows(t, experiment="e", method="m", task="t", space="s"))
               for t in trials)


def test_reads_every_row_with_all_fixed_columns(make_experiment) -> None:
    exp = make_experiment("cap", CAP_TRIALS)
    df = io.read_experiment(exp)
    assert len(df) == rows_of(CAP_TRIALS)
    assert list(df.columns[: len(schema.COLUMNS)]) == list(schema.COLUMNS)
    assert {"param_lr", "param_t"} <= set(df.columns)
    assert df[schema.WEIGHT_SPARSITY].dtype == "float64"


def test_reads_several_folders_and_uris(make_experiment) -> None:
    cap = make_experiment("cap", CAP_TRIALS)
    smp = make_experiment("smp", SMP_TRIALS, method="smp")
    df = io.read_experiments([cap.as_uri(), str(smp)])
    assert set(df[schema.EXPERIMENT]) == {"cap", "smp"}
    assert len(df) == rows_of(CAP_TRIALS) + rows_of(SMP_TRIALS)


def test_corrupt_and_foreign_files_are_skipped_with_a_warning_naming_them(
    make_experiment,
) -> None:
    exp = make_experiment("cap", CAP_TRIALS[:2])
    (exp / "results" / "broken.parquet").write_bytes(b"PAR1 not really")
    pq.write_table(pa.table({"x": [1, 2]}), exp / "results" / "foreign.parquet")
    bad_type = schema.rows_to_table(
        [{schema.TRIAL_ID: "z", schema.STATUS: "completed", schema.IS_FINAL: True}]
    ).set_column(14, schema.SCORE, pa.array(["high"]))
    pq.write_table(bad_type, exp / "results" / "typed.parquet")
    with pytest.warns(UserWarning) as caught:
        df = io.read_experiment(exp)
    messages = "\n".join(str(w.message) for w in caught)
    assert "broken.parquet" in messages
    assert "foreign.parquet: lacks required result columns: experiment, space" in messages
    assert "typed.parquet: column 'score' has type string, expected double" in messages
    assert len(df) == 4
    with pytest.raises(schema.SchemaError, match="broken.parquet"):
        io.read_experiment(exp, strict=True)


def test_missing_columns_error_names_them() -> None:
    present = [c for c in schema.REQUIRED if c not in ("score", "weight_sparsity")]
    with pytest.raises(schema.SchemaError, match="lacks required result columns: score, weight"):
        schema.validate_columns(present)


def test_schema_version_from_the_future_is_an_error(make_experiment) -> None:
    exp = make_experiment("cap", CAP_TRIALS[:1])
    future = schema.rows_to_table([{schema.TRIAL_ID: "f", schema.SCHEMA_VERSION_COL: 99}])
    pq.write_table(future, exp / "results" / "f-it000001.parquet")
    with pytest.raises(schema.SchemaError, match="schema_version 99.*upgrade"):
        io.read_experiment(exp)


def test_version_1_files_are_read_with_the_new_columns_as_nulls(make_experiment) -> None:
    exp = make_experiment("cap", CAP_TRIALS[:1])
    new = {schema.SPEEDUP, schema.TARGET_SPARSITY, schema.PREDICTED_SPARSITY,
           schema.CHECKPOINT_PATH}
    for path in (exp / "results").glob("*.parquet"):  # rewrite as a version 1 writer would
        table = pq.read_table(path)
        table = table.drop_columns([c for c in new if c in table.column_names])
        version = pa.array([1] * table.num_rows, pa.int32())
        table = table.set_column(table.column_names.index(schema.SCHEMA_VERSION_COL),
                                 schema.SCHEMA_VERSION_COL, version)
        pq.write_table(table, path)
    frame = io.read_experiment(exp)
    assert set(frame[schema.SCHEMA_VERSION_COL]) == {1}
    for column in new:
        assert frame[column].isna().all()
    assert frame[schema.SCORE].notna().any()


def test_writer_temp_files_are_ignored(make_experiment) -> None:
    exp = make_experiment("cap", CAP_TRIALS[:1])
    (exp / "results" / ".c9-it000001.parquet").write_bytes(b"half written")
    (exp / "results" / "_tmp.parquet").write_bytes(b"half written")
    (exp / "results" / "c9-it000001.parquet.tmp").write_bytes(b"half written")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(io.read_experiment(exp)) == 2


def test_reading_while_a_sweep_writes(tmp_path: Path) -> None:
    exp = write_experiment(tmp_path, "live", CAP_TRIALS[:2])
    first = len(io.read_experiment(exp))
    write_experiment(tmp_path, "live", CAP_TRIALS[2:4])
    assert len(io.read_experiment(exp)) == first + 4


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: None, "no such experiment folder"),
        (lambda p: p.mkdir(), "is empty; an experiment folder holds results/"),
        (lambda p: (p.mkdir(), (p / "notes.txt").write_text("x")), "has no results/ folder"),
        (lambda p: (p / "results").mkdir(parents=True), "holds no result files yet"),
        (lambda p: (p.mkdir(), p.joinpath("x").write_text("")) and None, "has no results/"),
    ],
)
def test_bad_folders_give_clear_errors(tmp_path: Path, setup, message: str) -> None:
    exp = tmp_path / "exp"
    setup(exp)
    with pytest.raises(AnalysisError, match=message):
        io.read_experiment(exp)


def test_only_unreadable_files_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "exp" / "results").mkdir(parents=True)
    (tmp_path / "exp" / "results" / "a.parquet").write_bytes(b"junk")
    with pytest.warns(UserWarning, match="a.parquet"):
        with pytest.raises(AnalysisError, match="none of the 1 result files"):
            io.read_experiment(tmp_path / "exp")


def test_experiment_info_is_optional(make_experiment) -> None:
    with_info = make_experiment("a", CAP_TRIALS[:1])
    without = make_experiment("b", CAP_TRIALS[:1], info=False)
    assert io.experiment_info(with_info)["space"] == "cap-soft_sst2"
    assert io.experiment_info(without) == {}


def test_a_file_is_not_a_folder(tmp_path: Path) -> None:
    (tmp_path / "x.parquet").write_bytes(b"")
    with pytest.raises(AnalysisError, match="is not a folder"):
        io.read_experiment(tmp_path / "x.parquet")


def test_a_remote_filesystem_is_read_with_threads_in_file_order(make_experiment) -> None:
    import pyarrow.fs as pafs

    exp = make_experiment("cap", CAP_TRIALS)
    (exp / "results" / "junk.parquet").write_bytes(b"nope")
    remote = pafs.SubTreeFileSystem(str(exp.parent), pafs.LocalFileSystem())
    with pytest.warns(UserWarning, match="junk.parquet"):
        threaded = io.read_experiment(io.Location(remote, "cap", "mock://cap"))
    with pytest.warns(UserWarning, match="junk.parquet"):
        serial = io.read_experiment(exp)
    assert len(threaded) == rows_of(CAP_TRIALS)
    assert threaded[schema.TRIAL_ID].tolist() == serial[schema.TRIAL_ID].tolist()


def test_latest_per_trial_keeps_the_highest_iteration_and_foreign_names() -> None:
    paths = ["r/t_00001-it000001.parquet", "r/t_00001-it000003.parquet",
             "r/t_00001-it000003-pruned.parquet", "r/t_00002-it000002.parquet",
             "r/t_00002-it000010.parquet", "r/other.parquet", "r/a-it1-b.parquet"]
    assert io.latest_per_trial(paths) == [
        "r/t_00001-it000003.parquet", "r/t_00001-it000003-pruned.parquet",
        "r/t_00002-it000010.parquet", "r/other.parquet", "r/a-it1-b.parquet"]


def test_latest_only_reads_one_file_per_trial(make_experiment) -> None:
    exp = make_experiment("cap", [{**t, "iterations": 4} for t in CAP_TRIALS])
    (exp / "results" / "c1-it000001.parquet").write_bytes(b"corrupt, but superseded")
    df = io.read_experiment(exp, latest_only=True)
    assert df.attrs == {"files_read": len(CAP_TRIALS), "files_total": rows_of(
        [{**t, "iterations": 4} for t in CAP_TRIALS])}
    assert df[schema.TRIAL_ID].is_unique
    with pytest.warns(UserWarning, match="c1-it000001.parquet"):
        io.read_experiment(exp)
