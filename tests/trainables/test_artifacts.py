"""The shared-artifact store: built once, crash-safe lock, nothing half-built visible."""

from __future__ import annotations

import json
import multiprocessing as mp
import socket
import os
import time
from pathlib import Path

import pytest

from trainables.artifacts import MANIFEST, ArtifactStore, artifact_key


def _build_slowly(root: str, counter: str, marker: str) -> None:
    store = ArtifactStore(root, heartbeat_s=0.2, stale_after_s=5.0, poll_s=0.05)

    def build(tmp: Path) -> None:
        with open(counter, "a") as fh:
            fh.write("x")
        time.sleep(0.5)
        (tmp / "data.txt").write_text(marker)

    path = store.get_or_build("thing", {"a": 1}, build)
    assert (path / "data.txt").read_text() == marker


def test_two_processes_build_once(tmp_path):
    counter = tmp_path / "count"
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_build_slowly, args=(str(tmp_path / "a"), str(counter), "m"))
             for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert counter.read_text() == "x"


def test_key_is_stable_and_order_independent():
    assert artifact_key({"a": 1, "b": [1, 2]}) == artifact_key({"b": [1, 2], "a": 1})
    assert artifact_key({"a": 1}) != artifact_key({"a": 2})


def test_failed_build_publishes_nothing_and_releases_the_lock(tmp_path):
    store = ArtifactStore(tmp_path, poll_s=0.01)

    def boom(tmp: Path) -> None:
        (tmp / "half").write_text("x")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        store.get_or_build("thing", {"k": 1}, boom)
    assert store.lookup("thing", {"k": 1}) is None
    assert not list((tmp_path / "thing").glob("*.lock"))
    path = store.get_or_build("thing", {"k": 1}, lambda tmp: (tmp / "ok").write_text("y"))
    assert (path / "ok").read_text() == "y" and (path / MANIFEST).is_file()


def test_lock_of_a_dead_builder_is_broken(tmp_path):
    store = ArtifactStore(tmp_path, heartbeat_s=0.1, stale_after_s=30.0, poll_s=0.01)
    key = artifact_key({"k": 2})
    (tmp_path / "thing").mkdir()
    # A builder on this host whose process is gone (pid 2**22 + 1 is above pid_max's default).
    lock = tmp_path / "thing" / f"{key}.lock"
    lock.write_text(json.dumps({"host": socket.gethostname(), "pid": 2**22 + 1,
                                "since": time.time()}))
    start = time.monotonic()
    path = store.get_or_build("thing", {"k": 2}, lambda tmp: (tmp / "v").write_text("1"))
    assert time.monotonic() - start < 5
    assert (path / "v").read_text() == "1"


def test_lock_with_a_stopped_heartbeat_is_broken(tmp_path):
    store = ArtifactStore(tmp_path, heartbeat_s=0.05, stale_after_s=0.3, poll_s=0.01)
    key = artifact_key({"k": 3})
    (tmp_path / "thing").mkdir()
    lock = tmp_path / "thing" / f"{key}.lock"
    lock.write_text(json.dumps({"host": "another-node", "pid": 1, "since": 0}))
    old = time.time() - 10
    os.utime(lock, (old, old))
    path = store.get_or_build("thing", {"k": 3}, lambda tmp: (tmp / "v").write_text("1"))
    assert (path / "v").is_file()
    assert [a.key for a in store.list()] == [key]


def _validated_build(root: str, counter: str) -> None:
    from trainables.array_files import check_arrays, write_arrays
    import numpy as np

    store = ArtifactStore(root, heartbeat_s=0.2, stale_after_s=5.0, poll_s=0.05)

    def build(tmp: Path) -> None:
        with open(counter, "a") as fh:
            fh.write("x")
        time.sleep(0.5)
        write_arrays(tmp, {"rows": np.arange(1000, dtype=np.float32)})

    path = store.get_or_build("rows", {"a": 1}, build, validate=check_arrays)
    assert check_arrays(path) is None


def test_a_damaged_artifact_is_rebuilt_once_by_concurrent_readers(tmp_path):
    from trainables.array_files import map_arrays

    root, counter = tmp_path / "a", tmp_path / "count"
    _validated_build(str(root), str(counter))
    assert counter.read_text() == "x"
    store = ArtifactStore(root)
    rows = store.lookup("rows", {"a": 1}) / "rows.npy"
    rows.write_bytes(rows.read_bytes()[:-8])  # truncated: the size check catches it
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_validated_build, args=(str(root), str(counter)))
             for _ in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    assert counter.read_text() == "xx"  # one rebuild among three readers
    assert list(map_arrays(store.lookup("rows", {"a": 1}))["rows"]) == list(range(1000))
    assert not list(root.glob("rows/.trash-*"))
