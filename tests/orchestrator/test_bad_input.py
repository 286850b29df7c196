"""Bad input for production sweeps: one clear line, a non-zero exit, nothing started."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from orchestrator.cli import main
from orchestrator.errors import UsageError
from orchestrator.storage_check import check_shared_storage, filesystem_type, is_network_fs


def _error(capsys) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def test_resume_of_a_name_that_does_not_exist(capsys, tmp_path):
    assert main(["resume", "nope", "--storage", str(tmp_path)]) == 2
    assert "no experiment 'nope'" in _error(capsys)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_address_nobody_answers_fails_within_seconds(capsys, tmp_path):
    start = time.monotonic()
    code = main(["launch", "--space", "calibrate", "--storage", str(tmp_path),
                 "--address", f"127.0.0.1:{_free_port()}"])
    assert code == 2 and time.monotonic() - start < 15
    assert "nobody answers" in _error(capsys)


def test_address_that_accepts_but_stays_silent(capsys, tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted = []  # keep the connection open and silent
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()
    start = time.monotonic()
    code = main(["launch", "--space", "calibrate", "--storage", str(tmp_path),
                 "--address", f"127.0.0.1:{server.getsockname()[1]}"])
    server.close()
    assert code == 2 and time.monotonic() - start < 15
    assert "nobody answers" in _error(capsys)


def test_gpus_asked_for_where_none_exist(ray_local, capsys, tmp_path):
    code = main(["launch", "--space", "calibrate", "--storage", str(tmp_path), "--name", "g",
                 "--gpus-per-trial", "1", "--quiet"])
    assert code == 2
    assert "asks for 1 GPUs but the cluster has 0" in _error(capsys)
    assert not (tmp_path / "g").exists()


def test_local_storage_with_several_nodes_is_refused(tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text("/dev/vda / ext4 rw 0 0\nserver:/export /nfs nfs4 rw 0 0\n")
    with pytest.raises(UsageError, match=r"node-local filesystem \(ext4\).*2 nodes"):
        check_shared_storage(tmp_path, 2, mounts_file=str(mounts))
    check_shared_storage(tmp_path, 1, mounts_file=str(mounts))  # one node: fine
    check_shared_storage(tmp_path, 2, allow_local=True, mounts_file=str(mounts))
    assert filesystem_type(tmp_path / "x", str(mounts)) == "ext4"
    from pathlib import Path
    assert is_network_fs(filesystem_type(Path("/nfs/exps"), str(mounts)))


def test_warm_start_from_another_space(ray_local, capsys, tmp_path):
    assert main(["launch", "--space", "calibrate", "--set", "work_s=0.2", "--quiet",
                 "--storage", str(tmp_path), "--name", "cal", "--num-samples", "1",
                 "--no-early-stop"]) == 0
    capsys.readouterr()
    code = main(["launch", "--space", "dense_sst2", "--profile", "smoke", "--storage",
                 str(tmp_path), "--name", "other", "--warm-start", "cal"])
    assert code == 2
    assert "swept space 'calibrate', this one sweeps 'dense_sst2'" in _error(capsys)


@pytest.mark.parametrize("args, message", [
    (["--sampler", "cmaes"], "--sampler 'cmaes' is not one of"),
    (["--min-sparsity", "1.5"], "--min-sparsity must be in [0, 1)"),
    (["--sampler", "random", "--min-sparsity", "0.5"], "random sampler ignores constraints"),
    (["--sampler", "qmc", "--min-sparsity", "0.5"], "qmc sampler ignores constraints"),
    (["--time-budget", "0"], "--time-budget must be > 0"),
])
def test_bad_search_controls(capsys, tmp_path, args, message):
    assert main(["launch", "--space", "calibrate", "--storage", str(tmp_path), *args]) == 2
    assert message in _error(capsys)
