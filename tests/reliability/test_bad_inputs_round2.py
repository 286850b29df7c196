"""Round 2 of the bad-input corpus: inputs that do not fit its one-error-line shape.

Warnings from ``status`` (which still exits 0), rows of another experiment, the analysis
CLI, library calls (``load_sparse``, trial checkpoints, shared artifacts) and the end of a
sweep stopped by its time budget. The launch options with one line each are cases in
``bad_inputs.py``.
"""

from __future__ import annotations

import json
import math
import shutil
import socket
import struct
import time
from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.errors import UsageError
from orchestrator.launch_options import LaunchOptions
from tests.reliability.helpers import fake_experiment_with_study, one_error_line

# -- one finiteness rule for every float option -----------------------------------------------


@pytest.mark.parametrize("field", ["cpus_per_trial", "gpus_per_trial", "min_sparsity",
                                   "time_budget_s"])
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_every_float_option_must_be_finite(field, value):
    with pytest.raises(UsageError, match="must be a finite number"):
        LaunchOptions(**{field: value})


@pytest.mark.parametrize("seed", [0, 2**32 - 1])
def test_seed_bounds_are_accepted(seed):
    assert LaunchOptions(seed=seed).seed == seed


# -- status names what it cannot show -----------------------------------------------------------


def _status(tmp_path: Path, capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["status", "e", "--storage", str(tmp_path)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_status_warns_when_results_and_rows_are_gone(tmp_path, capsys):
    folder = fake_experiment_with_study(tmp_path, "e", trials=2)
    shutil.rmtree(folder / "results")
    code, out, err = _status(tmp_path, capsys)
    assert code == 0
    assert "has neither results/ nor _rows/" in err and "journal lists 2 trials" in err


def test_status_warns_about_a_journal_cut_mid_record(tmp_path, capsys):
    folder = fake_experiment_with_study(tmp_path, "e", trials=3)
    journal = folder / "optuna.journal"
    journal.write_bytes(journal.read_bytes()[:-30])
    code, out, err = _status(tmp_path, capsys)
    assert code == 0
    assert "optuna.journal is damaged: its last record" in err and "truncate -s" in err


def test_status_survives_a_garbled_journal_line(tmp_path, capsys):
    folder = fake_experiment_with_study(tmp_path, "e", trials=3)
    journal = folder / "optuna.journal"
    lines = journal.read_bytes().split(b"\n")
    lines[1] = lines[1][:40]
    journal.write_bytes(b"\n".join(lines))
    code, out, err = _status(tmp_path, capsys)
    assert code == 0 and "line 2 is not a valid record" in err
    assert "Traceback" not in err


# -- rows of another experiment ---------------------------------------------------------------


def test_rows_of_another_experiment_are_skipped_with_a_warning(tmp_path):
    from analysis.io import read_experiment
    from tests.analysis.analysis_fixtures import DENSE_TRIALS, write_experiment

    mine = write_experiment(tmp_path, "mine", DENSE_TRIALS, method="dense")
    other = write_experiment(tmp_path, "other",
                             [{"trial_id": "x1", "score": 0.5, "weight_sparsity": 0.0}],
                             method="dense")
    copied = next((other / "results").glob("*.parquet"))
    shutil.copy(copied, mine / "results" / copied.name)
    with pytest.warns(UserWarning, match=f"{copied.name} holds rows of experiment.s. other"):
        df = read_experiment(mine)
    assert set(df["trial_id"]) == {"d1"}


# -- the analysis CLI -------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["inf", "-inf", "nan"])
def test_pareto_refuses_a_non_finite_reference(value, tmp_path, capsys):
    from analysis.cli import main as analysis_main

    code = analysis_main(["pareto", str(tmp_path / "exp"), "--ref", f"score={value}"])
    line = one_error_line(capsys.readouterr().err)
    assert code == 2 and "the reference must be a finite number" in line


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again: nothing listens there


def test_unreachable_object_store_is_one_line_in_seconds(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    uri = (f"s3://AKIA:VERYSECRET@bucket/exps?endpoint_override=127.0.0.1:{_dead_port()}"
           "&scheme=http")
    from analysis.cli import main as analysis_main

    for run, argv in ((main, ["status", "e", "--storage", uri]),
                      (analysis_main, ["pareto", uri.replace("/exps?", "/exps/e?"),
                                       "--out", str(tmp_path / "r")]),
                      (main, ["launch", "--space", "dense_sst2", "--profile", "smoke",
                              "--storage", str(tmp_path / "exps"), "--warm-start",
                              uri.replace("/exps?", "/exps/e?")])):
        start = time.monotonic()
        capsys.readouterr()
        code = run(argv)
        err = capsys.readouterr().err
        line = one_error_line(err)
        assert code == 2 and "does not answer" in line, line
        assert "VERYSECRET" not in err
        assert time.monotonic() - start < 10


# -- library calls name the file ---------------------------------------------------------------


def test_load_sparse_names_a_garbled_plan(tmp_path):
    from trainables.sparse.convert import PLAN_FILE, SparsePlanError, load_sparse

    (tmp_path / PLAN_FILE).write_text('{"device": "cpu", "tok')
    with pytest.raises(SparsePlanError, match=PLAN_FILE):
        load_sparse(tmp_path)
    (tmp_path / PLAN_FILE).write_text(json.dumps({"device": "cpu", "tokens": 1, "threads": 1,
                                                  "layers": {"a": {"kernel": "csr"}}}))
    with pytest.raises(SparsePlanError, match="layer 'a' lacks its shape or density"):
        load_sparse(tmp_path)


def test_a_refused_trainer_state_names_its_file(tmp_path):
    import torch
    from torch import nn

    from tests.reliability.bad_inputs import pickled_checkpoint
    from trainables.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

    model = nn.Linear(2, 2)
    save_checkpoint(tmp_path, model, {"step": 1})
    pickled_checkpoint(tmp_path / "trainer.pt")
    with pytest.raises(CheckpointError, match=r"trainer\.pt holds objects other than tensors"):
        load_checkpoint(tmp_path, model)
    torch.save({"step": 1}, tmp_path / "trainer.pt")
    data = (tmp_path / "model.safetensors").read_bytes()
    (tmp_path / "model.safetensors").write_bytes(data[:-4])
    with pytest.raises(CheckpointError, match="model.safetensors"):
        load_checkpoint(tmp_path, model)


def _safetensors(path: Path) -> bytes:
    import torch
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(4, 4)}, str(path))
    return path.read_bytes()


def test_safetensors_problem_finds_truncation_and_padding(tmp_path):
    from trainables.array_files import safetensors_problem

    data = _safetensors(tmp_path / "a.safetensors")
    assert safetensors_problem(tmp_path / "a.safetensors") is None
    (tmp_path / "a.safetensors").write_bytes(data[:-1])
    assert "truncated" in safetensors_problem(tmp_path / "a.safetensors")
    (tmp_path / "a.safetensors").write_bytes(data + b"x")
    assert "longer than its header says" in safetensors_problem(tmp_path / "a.safetensors")
    (tmp_path / "a.safetensors").write_bytes(struct.pack("<Q", 10) + b"{oops")
    assert safetensors_problem(tmp_path / "a.safetensors") is not None


def test_a_truncated_tokenized_artifact_is_rebuilt(tmp_path, capsys):
    from trainables.artifacts import ArtifactStore
    from trainables.data import load_task_data
    from trainables.models import load_tokenizer
    from trainables.tasks import get_task

    store = ArtifactStore(tmp_path / "_artifacts")
    kwargs = dict(data_dir=None, synthetic=True, max_seq_length=16, max_train_examples=8,
                  max_eval_examples=4, cache=store)
    first = load_task_data(get_task("sst2"), load_tokenizer("tiny"), **kwargs)
    (tensors,) = (tmp_path / "_artifacts").rglob("train.safetensors")
    tensors.write_bytes(tensors.read_bytes()[:-16])
    again = load_task_data(get_task("sst2"), load_tokenizer("tiny"), **kwargs)
    assert "[artifacts] rebuilding tokenized/" in capsys.readouterr().out
    assert all((first.train[k] == again.train[k]).all() for k in first.train)


def test_export_refuses_a_truncated_model_file(tmp_path):
    from analysis.errors import AnalysisError
    from analysis.export import check_weights

    data = _safetensors(tmp_path / "model.safetensors")
    check_weights(tmp_path, tmp_path)
    (tmp_path / "model.safetensors").write_bytes(data[:-8])
    with pytest.raises(AnalysisError, match="model.safetensors from .* is truncated"):
        check_weights(tmp_path, tmp_path)


# -- the machine ------------------------------------------------------------------------------


def test_device_cuda_without_cuda_is_refused_before_ray(tmp_path, capsys, monkeypatch):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code = main(["launch", "--space", "dense_sst2", "--profile", "smoke", "--storage",
                 str(tmp_path / "exps"), "--set", "device=cuda"])
    line = one_error_line(capsys.readouterr().err)
    assert code == 2 and "device='cuda', but CUDA is not available" in line
    assert not (tmp_path / "exps").exists() or not any((tmp_path / "exps").iterdir())


# -- the end of a sweep stopped by its time budget ---------------------------------------------


def test_budget_note_says_the_budget_stopped_the_sweep():
    from orchestrator.finish import budget_note

    record = {"time_budget_s": 0.001, "num_samples": 2, "created": time.time() - 5}
    assert budget_note(record, 0, 0) == ("the time budget (--time-budget 0.001 s) stopped the "
                                         "sweep: 0 of 2 trials completed")
    assert budget_note(record, 2, 0) is None  # every trial completed: not the budget
    assert budget_note({**record, "time_budget_s": None}, 0, 0) is None
