"""optuna-dashboard on 127.0.0.1, the artifacts CLI, a killed artifact builder, trial names."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from orchestrator.cli import build_parser, main
from tests.orchestrator.helpers import REPO, cli_env, wait_for
from trainables.artifacts import ArtifactStore


def _hold_the_lock_forever(root: str, started: str) -> None:
    store = ArtifactStore(root, heartbeat_s=0.2, stale_after_s=2.0)

    def build(tmp: Path) -> None:
        Path(started).write_text(str(os.getpid()))
        time.sleep(3600)

    store.get_or_build("teacher", {"model": "m"}, build)


def test_builder_killed_while_holding_the_lock(tmp_path):
    started = tmp_path / "started"
    proc = mp.get_context("spawn").Process(target=_hold_the_lock_forever,
                                           args=(str(tmp_path), str(started)))
    proc.start()
    wait_for(started.exists, 60, "the builder to start")
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(10)
    builds = []
    store = ArtifactStore(tmp_path, heartbeat_s=0.2, stale_after_s=2.0, poll_s=0.05)
    start = time.monotonic()
    path = store.get_or_build("teacher", {"model": "m"},
                              lambda tmp: builds.append((tmp / "w").write_text("ok")))
    assert time.monotonic() - start < 10  # the dead builder's lock was broken
    assert (path / "w").read_text() == "ok" and len(builds) == 1
    assert len(list(store.list())) == 1  # built once: nothing duplicated, nothing half-built
    assert not list((tmp_path / "teacher").glob(".tmp-*"))


def test_artifacts_list_and_prune(tmp_path, capsys):
    store = ArtifactStore.under_storage(tmp_path)
    store.get_or_build("tokenized", {"task": "sst2"}, lambda t: (t / "a").write_text("x"))
    assert main(["artifacts", "list", "--storage", str(tmp_path)]) == 0
    assert "tokenized" in capsys.readouterr().out
    assert main(["artifacts", "prune", "--storage", str(tmp_path)]) == 2  # asks for --yes
    assert "add --yes" in capsys.readouterr().err
    assert main(["artifacts", "prune", "--storage", str(tmp_path), "--yes"]) == 0
    assert list(store.list()) == []


def test_services_bind_to_localhost_by_default():
    parser = build_parser()
    assert parser.parse_args(["launch", "--space", "x"]).dashboard_host == "127.0.0.1"
    assert parser.parse_args(["dashboard", "x"]).host == "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_optuna_dashboard_serves_the_journal_on_localhost(tmp_path):
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    exp = tmp_path / "e"
    exp.mkdir()
    (exp / "experiment.json").write_text(json.dumps({"name": "e", "space": "calibrate"}))
    storage = JournalStorage(JournalFileBackend(str(exp / "optuna.journal")))
    optuna.create_study(study_name="e", storage=storage).optimize(lambda t: 1.0, n_trials=1)
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator", "dashboard", "e",
                             "--storage", str(tmp_path), "--port", str(port)], cwd=REPO,
                            env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        def up() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                return True
            except OSError:
                return False

        wait_for(up, 60, "optuna-dashboard to listen")
        out = subprocess.run(["ss", "-ltn"], capture_output=True, text=True).stdout
        listening = [line for line in out.splitlines() if f":{port} " in line]
        assert listening and all("127.0.0.1:" in line for line in listening), listening
    finally:
        proc.terminate()
        proc.wait(10)


def test_trials_are_named_by_space_for_the_dashboard():
    from orchestrator.sweep import Resources, make_trainable

    cls = make_trainable("dense", "dense_sst2", Resources())
    assert cls.__name__ == "dense_sst2"  # actors show as dense_sst2, processes ray::dense_sst2
