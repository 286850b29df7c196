"""One live driver per experiment: a lock held for the driver's life.

Two drivers on one experiment corrupt it: the second restores trials the first still runs,
marks them errored and writes ``failed`` rows for trials that completed. So ``launch`` and
``resume`` hold an exclusive ``flock`` on ``<experiment>/.driver.lock`` from before they
touch Tune's state until they exit. The kernel drops the lock when the process dies (even
from SIGKILL), so a crashed driver never leaves a stale lock behind; ``flock`` also works
across NFS clients (Linux maps it to NFS byte-range locks). Beside it, ``.driver.json``
records who holds it (pid, host, start time) for the refusal message; that record is only
informative, the lock is the truth.

An object store (``s3://``, ``gs://``) has no locks. There the lock is taken on a file in
this machine's cache (so two drivers on one machine are still kept apart) and the driver
says once that drivers on other machines cannot be detected.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
import time
from typing import TYPE_CHECKING, Any

from orchestrator.errors import OrchestratorError

if TYPE_CHECKING:
    from orchestrator.experiment import Experiment

LOCK_FILE = ".driver.lock"
RECORD_FILE = ".driver.json"

# The locks this process holds, by lock file path: kept open (and so locked) until exit.
_HELD: dict[str, int] = {}


class DriverBusyError(OrchestratorError):
    """Another live driver runs this experiment."""

    exit_code = 1


def _lock_path(experiment: Experiment) -> str:
    if experiment.storage.is_local:
        return os.path.join(experiment.path, LOCK_FILE)
    from orchestrator.storage import local_cache_dir

    digest = hashlib.sha256(experiment.storage.text.encode()).hexdigest()[:12]
    folder = local_cache_dir() / "locks" / digest
    folder.mkdir(parents=True, exist_ok=True)
    return str(folder / f"{experiment.name}{LOCK_FILE}")


def _holder(experiment: Experiment) -> dict[str, Any]:
    """What ``.driver.json`` says about the holder ({} when unreadable)."""
    try:
        return json.loads(experiment.storage.read_text(
            experiment.storage.join(experiment.name, RECORD_FILE)))
    except Exception:  # noqa: BLE001 (a message detail only; the lock decided already)
        return {}


def acquire(experiment: Experiment, command: str) -> None:
    """Hold the experiment's driver lock until this process exits (or :func:`release`).

    Raises:
        DriverBusyError: another live process holds it; nothing was changed.
    """
    path = _lock_path(experiment)
    if path in _HELD:
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        holder = _holder(experiment)
        who = (f"pid {holder.get('pid', '?')} on {holder.get('host', '?')}"
               if holder else "another process")
        since = holder.get("started")
        since_text = (f", {holder.get('command', 'a driver')} since "
                      f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(since))}"
                      if isinstance(since, (int, float)) else "")
        raise DriverBusyError(
            f"experiment {experiment.name!r} is being run by a live driver ({who}"
            f"{since_text}); only one driver may run an experiment: wait for it to end "
            f"(`python -m orchestrator status {experiment.name}` shows its progress) or stop "
            "it, then resume") from None
    except OSError as exc:
        os.close(fd)
        raise OrchestratorError(f"cannot lock experiment {experiment.name!r} ({path}): "
                                f"{exc.strerror or exc}") from None
    _HELD[path] = fd
    if not experiment.storage.is_local:
        print(f"warning: {experiment.storage.display} is an object store, which has no "
              f"locks: only drivers on this machine are kept from running "
              f"{experiment.name} twice; make sure no other machine launches or resumes it "
              "while this one runs", flush=True)
    record = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(),
              "command": command}
    experiment.storage.write_text(experiment.storage.join(experiment.name, RECORD_FILE),
                                  json.dumps(record))


def release(experiment: Experiment) -> None:
    """Give the lock back (process exit does the same)."""
    fd = _HELD.pop(_lock_path(experiment), None)
    if fd is not None:
        os.close(fd)  # closing the last descriptor drops the flock
