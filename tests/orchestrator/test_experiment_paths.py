"""`status`, `resume` and `dashboard` take an experiment's folder as well as its name (issue 29).

Every ``analysis`` command takes a path, so users pass one to ``status`` too; it used to be
refused as a name that "cannot leave the storage root". A path's parent is its storage root;
names (and symlinks inside a root) still cannot leave it.
"""

from __future__ import annotations

import os

import pytest

from orchestrator.cli import main
from orchestrator.errors import UsageError
from orchestrator.experiment import Experiment, is_experiment_path, split_experiment_path

RECORD = {"space": "dense_sst2", "profile": "smoke", "num_samples": 2,
          "objectives": [["score", "max"]]}


@pytest.fixture
def exp(tmp_path):
    experiment = Experiment.at(str(tmp_path / "exps"), "exp1")
    experiment.create(RECORD)
    return tmp_path / "exps" / "exp1"


def _status(capsys, *argv):
    code = main(["status", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("form", ["absolute", "relative", "trailing slash", "dot-dot"])
def test_status_takes_the_experiment_folder(capsys, exp, monkeypatch, form):
    monkeypatch.chdir(exp.parent.parent)
    ref = {"absolute": str(exp), "relative": "exps/exp1", "trailing slash": "./exps/exp1/",
           "dot-dot": "exps/../exps/exp1"}[form]
    code, out, err = _status(capsys, ref)  # --storage left at its default, unused
    assert code == 0, err
    assert out.splitlines()[0].startswith("experiment exp1: space dense_sst2, profile smoke")


def test_status_by_name_still_reads_under_storage(capsys, exp):
    code, out, _ = _status(capsys, "exp1", "--storage", str(exp.parent))
    assert code == 0 and out.startswith("experiment exp1:")


def test_a_folder_without_experiment_json_is_refused_naming_it(capsys, tmp_path):
    (tmp_path / "plain").mkdir()
    code, _, err = _status(capsys, str(tmp_path / "plain"))
    assert code == 2
    assert f"{tmp_path / 'plain'} is not an experiment folder (no experiment.json in it)" in err


def test_names_still_cannot_leave_the_storage_root(capsys, exp, tmp_path):
    # A symlink inside the root whose target lies outside it is refused on every command.
    outside = Experiment.at(str(tmp_path / "elsewhere"), "victim")
    outside.create(RECORD)
    os.symlink(tmp_path / "elsewhere" / "victim", exp.parent / "link")
    for ref in (str(exp.parent / "link"), "link"):
        code, _, err = _status(capsys, ref, "--storage", str(exp.parent))
        assert code == 2 and "outside the storage root" in err, (ref, err)
    with pytest.raises(UsageError, match="cannot leave the storage root"):
        Experiment.open(str(exp.parent), "../elsewhere")


def test_resume_and_dashboard_find_the_experiment_by_path(capsys, exp):
    # Both get past finding the experiment (and reading experiment.json) to their own checks.
    assert main(["dashboard", str(exp)]) == 2
    assert "experiment 'exp1' has no optuna.journal yet" in capsys.readouterr().err
    assert main(["resume", str(exp)]) == 2
    err = capsys.readouterr().err
    assert "exp1" in err and "not an experiment folder" not in err and "no experiment" not in err


def test_split_experiment_path():
    assert is_experiment_path("a/b") and is_experiment_path(".") and not is_experiment_path("a")
    assert split_experiment_path("/nfs/exps/demo/") == ("/nfs/exps", "demo")
    assert split_experiment_path("s3://bucket/exps/demo?endpoint_override=minio:9000") == \
        ("s3://bucket/exps?endpoint_override=minio:9000", "demo")
