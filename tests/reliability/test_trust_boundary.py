"""The trust boundary: resume refuses state others can write; the dashboard is read-only."""

from __future__ import annotations

import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from orchestrator.cli import main
from orchestrator.errors import UsageError
from orchestrator.trust import check_resume_state
from tests.reliability.bad_inputs import fake_experiment
from tests.reliability.helpers import (fake_experiment_with_study, free_port, one_error_line,
                                       study_names, wait_for_port)


def test_own_state_is_trusted(tmp_path):
    folder = fake_experiment(tmp_path)
    check_resume_state(str(folder), is_local=True, display=str(tmp_path), trust_storage=False)


@pytest.mark.parametrize("change, reason", [
    (lambda f: (f / "tuner.pkl").chmod(0o666), "writable by its group or by others"),
    (lambda f: f.chmod(0o777), "writable by its group or by others"),
    (lambda f: __import__("os").chown(f / "tuner.pkl", 4242, 4242), "owned by uid 4242"),
    (lambda f: ((f / "tuner.pkl").unlink(), (f / "tuner.pkl").symlink_to("/etc/hostname")),
     "is a symlink"),
])
def test_state_others_can_write_is_refused_unless_trusted(tmp_path, change, reason):
    folder = fake_experiment(tmp_path)
    change(folder)
    with pytest.raises(UsageError, match=f"resume refused: .*{reason}.*--trust-storage"):
        check_resume_state(str(folder), is_local=True, display="x", trust_storage=False)
    check_resume_state(str(folder), is_local=True, display="x", trust_storage=True)


def test_trial_folder_pickles_are_checked(tmp_path):
    folder = fake_experiment(tmp_path)
    trial = folder / "calibrate_abc"
    trial.mkdir()
    (trial / "params.pkl").write_bytes(b"x")
    (trial / "params.pkl").chmod(0o646)
    with pytest.raises(UsageError, match="calibrate_abc/params.pkl is writable"):
        check_resume_state(str(folder), is_local=True, display="x", trust_storage=False)


def test_an_object_store_says_what_cannot_be_checked(capsys):
    check_resume_state("bucket/exps/e", is_local=False, display="s3://bucket/exps",
                       trust_storage=False)
    out = capsys.readouterr().out
    assert "s3://bucket/exps" in out and "cannot be checked" in out


def test_resume_cli_refuses_before_ray_starts(tmp_path, capsys):
    folder = fake_experiment(tmp_path)
    (folder / "tuner.pkl").chmod(0o664)
    assert main(["resume", "old", "--storage", str(tmp_path / "exps")]) == 2
    assert "--trust-storage" in one_error_line(capsys.readouterr().err)


def _dashboard(tmp_path, *extra: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "orchestrator", "dashboard", "exp", "--storage", str(tmp_path),
         "--port", str(port), *extra], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True)
    try:
        wait_for_port(port)
    except TimeoutError:
        proc.kill()
        raise AssertionError(proc.communicate()[0][-2000:]) from None
    return proc, port


def _request(port: int, method: str, path: str) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.timeout(180)
def test_dashboard_is_read_only_unless_allow_writes(tmp_path):
    pytest.importorskip("optuna_dashboard")
    fake_experiment_with_study(tmp_path, "exp")
    journal = tmp_path / "exp" / "optuna.journal"
    proc, port = _dashboard(tmp_path)
    try:
        assert _request(port, "GET", "/api/studies") == 200
        assert _request(port, "DELETE", "/api/studies/0") == 403  # its reason, not a 500
        assert study_names(journal) == ["exp"]  # nothing was deleted
    finally:
        proc.terminate()
        out = proc.communicate(timeout=30)[0]
    assert "(read-only)" in out and "read-only (delete_study refused)" in out

    proc, port = _dashboard(tmp_path, "--allow-writes")
    try:
        assert _request(port, "DELETE", "/api/studies/0") == 204
        assert study_names(journal) == []  # the same request deletes with --allow-writes
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


def test_dashboard_on_a_public_host_warns_about_optuna_dashboard(tmp_path, capsys,
                                                                monkeypatch):
    pytest.importorskip("optuna_dashboard")
    import optuna_dashboard

    from orchestrator.read_only_storage import ReadOnlyStorage

    fake_experiment_with_study(tmp_path, "exp")
    served = []
    monkeypatch.setattr(optuna_dashboard, "run_server",
                        lambda storage, host, port: served.append((storage, host)))
    assert main(["dashboard", "exp", "--storage", str(tmp_path), "--host", "0.0.0.0"]) == 0
    out = capsys.readouterr().out
    assert "warning: optuna-dashboard will listen on 0.0.0.0 without authentication" in out
    assert "Ray dashboard" not in out
    assert isinstance(served[0][0], ReadOnlyStorage) and served[0][1] == "0.0.0.0"
