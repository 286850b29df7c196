"""Shared artifacts: things many trials need and none should rebuild.

Tokenised datasets, CAP's fine-tuned teacher and SMP's meta-trained pruner are built once,
keyed by a hash of everything that determines them, stored under
``<storage>/_artifacts/<kind>/<key>/`` so every node that mounts the storage can read them,
and guarded by a lock file so two trials that need one at once do not both build it.

The lock survives a crashed builder: the builder refreshes the lock's mtime from a heartbeat
thread, and a waiter breaks a lock whose heartbeat stopped (or whose process is gone, when it
is on the same host). Building happens in a temporary folder that is renamed into place, so
a half-built artifact is never visible.

Example:
    >>> store = ArtifactStore("experiments/_artifacts")                # doctest: +SKIP
    >>> path = store.get_or_build("teacher", {"model": "minilm", "task": "qqp"}, build_fn)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"
ARTIFACTS_DIRNAME = "_artifacts"


def describe_holder(holder: Mapping[str, Any]) -> str:
    """The builder a lock names, as a console sentence: "process 6722 on vm, for 2 min 5 s"."""
    pid, host = holder.get("pid", -1), holder.get("host", "?")
    known = isinstance(pid, int) and pid > 0
    who = f"process {pid} on {host}" if known else f"a process on {host}"
    since = holder.get("since")
    if not isinstance(since, (int, float)):
        return who
    seconds = max(0, int(time.time() - since))
    minutes, seconds = divmod(seconds, 60)
    return f"{who}, for {minutes} min {seconds} s" if minutes else f"{who}, for {seconds} s"


@dataclass(frozen=True)
class ArtifactInfo:
    kind: str
    key: str
    path: Path
    inputs: dict[str, Any]
    created: float
    size_bytes: int
    build_s: float


def artifact_key(inputs: Mapping[str, Any]) -> str:
    """A stable 16-hex-digit key for the JSON-serialisable ``inputs``."""
    blob = json.dumps(inputs, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Heartbeat:
    """Touches the lock file every ``interval_s`` while a build runs."""

    def __init__(self, lock: Path, interval_s: float) -> None:
        self._lock = lock
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True, name="artifact-heartbeat")

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                os.utime(self._lock)
            except FileNotFoundError:  # broken by a waiter that judged us dead
                return


class ArtifactStore:
    """A folder of artifacts built once under a crash-safe lock.

    Args:
        root: the ``_artifacts`` folder (on shared storage for multi-node clusters).
        heartbeat_s: how often a builder refreshes its lock.
        stale_after_s: a lock whose heartbeat is older than this is considered abandoned.
        poll_s: how often a waiter checks whether the artifact appeared.
    """

    def __init__(
        self,
        root: str | Path,
        *,
        heartbeat_s: float = 5.0,
        stale_after_s: float = 60.0,
        poll_s: float = 0.5,
    ) -> None:
        if stale_after_s <= heartbeat_s:
            raise ValueError(
                f"`stale_after_s` must exceed `heartbeat_s`, but got {stale_after_s=} "
                f"and {heartbeat_s=}."
            )
        self.root = Path(root)
        self.heartbeat_s = heartbeat_s
        self.stale_after_s = stale_after_s
        self.poll_s = poll_s

    @classmethod
    def under_storage(cls, storage_root: str | Path, **kwargs: Any) -> ArtifactStore:
        """The store of an experiment storage root (``<storage>/_artifacts``)."""
        return cls(Path(storage_root) / ARTIFACTS_DIRNAME, **kwargs)

    def path(self, kind: str, key: str) -> Path:
        if not kind.isidentifier():
            raise ValueError(f"artifact kind must be an identifier, but got {kind!r}")
        return self.root / kind / key

    def lookup(self, kind: str, inputs: Mapping[str, Any]) -> Path | None:
        """The artifact's folder if it was built, else None."""
        path = self.path(kind, artifact_key(inputs))
        return path if (path / MANIFEST).is_file() else None

    def get_or_build(
        self,
        kind: str,
        inputs: Mapping[str, Any],
        build: Callable[[Path], None],
        *,
        timeout_s: float | None = None,
        on_wait: Callable[[str], None] | None = None,
        validate: Callable[[Path], str | None] | None = None,
    ) -> Path:
        """Return the artifact for ``inputs``, building it with ``build(tmp_dir)`` if needed.

        ``build`` writes its files into the folder it is given; it is called in at most one
        process at a time for a given key. If it raises, nothing is published and the lock
        is released, so the next caller tries again.

        ``validate(folder)`` returns None for a sound artifact or what is wrong with it (a
        missing, truncated or altered file). A published artifact it rejects is set aside
        and rebuilt under the lock, re-checked there first, since another caller may have
        rebuilt it meanwhile; so a damaged artifact is rebuilt once, never half-read.
        """
        key = artifact_key(inputs)
        final = self.path(kind, key)
        final.parent.mkdir(parents=True, exist_ok=True)
        lock = final.parent / f"{key}.lock"
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        announced = False
        while True:
            if self._sound(final, validate) is True:
                return final
            if self._try_lock(lock):
                try:
                    sound = self._sound(final, validate)
                    if sound is True:  # built while we were acquiring
                        return final
                    if sound is not None:
                        self._set_aside(final, f"{kind}/{key}", sound)
                    self._remove_leftovers(final.parent, key)
                    self._build(kind, key, dict(inputs), build, final, lock)
                    return final
                finally:
                    self._unlock(lock)
            holder = self._read_lock(lock)
            if holder is not None and self._is_stale(lock, holder):
                self._break(lock)
                continue
            if on_wait is not None and not announced and holder is not None:
                on_wait(describe_holder(holder))
                announced = True
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(
                    f"gave up waiting for artifact {kind}/{key} built by "
                    f"{describe_holder(holder or {})} after {timeout_s} s"
                )
            time.sleep(self.poll_s)

    def list(self) -> Iterator[ArtifactInfo]:
        """Every built artifact, by kind and key."""
        if not self.root.is_dir():
            return
        for manifest in sorted(self.root.glob(f"*/*/{MANIFEST}")):
            data = json.loads(manifest.read_text())
            size = sum(f.stat().st_size for f in manifest.parent.rglob("*") if f.is_file())
            yield ArtifactInfo(
                kind=manifest.parent.parent.name,
                key=manifest.parent.name,
                path=manifest.parent,
                inputs=data.get("inputs", {}),
                created=data.get("created", 0.0),
                size_bytes=size,
                build_s=data.get("build_s", 0.0),
            )

    @staticmethod
    def _sound(final: Path, validate: Callable[[Path], str | None] | None) -> bool | str | None:
        """True: published and valid; None: not published; else what ``validate`` found."""
        if not (final / MANIFEST).is_file():
            return None
        if validate is None:
            return True
        try:
            problem = validate(final)
        except FileNotFoundError as exc:  # set aside by another caller while we read it
            problem = f"missing file: {exc}"
        return True if problem is None else problem

    def _set_aside(self, final: Path, name: str, problem: str) -> None:
        """Move a damaged artifact out of the way (we hold its lock); readers that mapped
        its files keep them: the rename and unlink do not touch open mappings."""
        print(f"[artifacts] rebuilding {name}: {problem}", flush=True)
        trash = final.parent / f".trash-{final.name}-{uuid.uuid4().hex[:8]}"
        try:
            os.rename(final, trash)
        except FileNotFoundError:
            return
        shutil.rmtree(trash, ignore_errors=True)

    def remove(self, kind: str, key: str) -> None:
        """Delete one artifact (rename first, so readers never see a half-deleted folder)."""
        path = self.path(kind, key)
        if not path.exists():
            raise FileNotFoundError(f"no artifact {kind}/{key} under {self.root}")
        trash = path.parent / f".trash-{key}-{uuid.uuid4().hex[:8]}"
        os.rename(path, trash)
        shutil.rmtree(trash, ignore_errors=True)

    # -- locking -------------------------------------------------------------------------

    def _try_lock(self, lock: Path) -> bool:
        holder = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()}
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as fh:
            json.dump(holder, fh)
        return True

    def _unlock(self, lock: Path) -> None:
        try:
            lock.unlink()
        except FileNotFoundError:
            pass

    def _read_lock(self, lock: Path) -> dict[str, Any] | None:
        try:
            text = lock.read_text()
        except FileNotFoundError:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError:  # caught between create and write
            return {"host": "?", "pid": -1, "since": time.time()}

    def _is_stale(self, lock: Path, holder: Mapping[str, Any]) -> bool:
        try:
            age = time.time() - lock.stat().st_mtime
        except FileNotFoundError:
            return False
        if age > self.stale_after_s:
            return True
        same_host = holder.get("host") == socket.gethostname()
        pid = int(holder.get("pid", -1))
        return same_host and pid > 0 and not _pid_alive(pid)

    def _break(self, lock: Path) -> None:
        # Rename is atomic: of several waiters that judge the lock stale, one wins.
        trash = lock.with_name(f"{lock.name}.stale-{uuid.uuid4().hex[:8]}")
        try:
            os.rename(lock, trash)
        except FileNotFoundError:
            return
        trash.unlink(missing_ok=True)

    def _remove_leftovers(self, folder: Path, key: str) -> None:
        """Half-built folders of builders that died (we hold the lock, so none is alive)."""
        for leftover in folder.glob(f".tmp-{key}-*"):
            shutil.rmtree(leftover, ignore_errors=True)

    def _build(
        self,
        kind: str,
        key: str,
        inputs: dict[str, Any],
        build: Callable[[Path], None],
        final: Path,
        lock: Path,
    ) -> None:
        tmp = final.parent / f".tmp-{key}-{uuid.uuid4().hex[:8]}"
        tmp.mkdir()
        start = time.time()
        try:
            with _Heartbeat(lock, self.heartbeat_s):
                build(tmp)
            manifest = {"kind": kind, "key": key, "inputs": inputs, "created": time.time(),
                        "build_s": time.time() - start, "host": socket.gethostname()}
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
            try:
                os.rename(tmp, final)
            except OSError:
                # A builder that we judged dead finished after all: keep its copy.
                if not (final / MANIFEST).is_file():
                    raise
                shutil.rmtree(tmp, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


@contextmanager
def store_or_temporary(store: ArtifactStore | None, prefix: str) -> Iterator[ArtifactStore]:
    """``store``, or a throw-away one when a trial has no storage root (it still builds, and
    pays for, what it needs; nothing is kept)."""
    if store is not None:
        yield store
        return
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
        yield ArtifactStore(tmp)
