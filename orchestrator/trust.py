"""The trust boundary of ``resume``: whoever can write the state Ray Tune unpickles runs code.

Ray Tune restores an experiment from pickles (``tuner.pkl``, the searcher state, each trial's
``params.pkl``) and from ``experiment_state-*.json`` (which holds cloudpickled trial objects).
Ray cannot avoid the pickle, so ``resume`` draws the line: on a local or NFS storage root every
such file, and the folders holding them, must belong to the current user and be writable by
no one else; otherwise resume refuses, naming the file, unless ``--trust-storage``. An object
store (``s3://``, ``gs://``) has no owners or modes to check: resume says so once and relies on
the bucket's access policy.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from pathlib import Path

from orchestrator.errors import UsageError

# What Tune unpickles on restore (names relative to the experiment folder or a trial folder).
STATE_PATTERNS = ("*.pkl", "experiment_state-*.json", "searcher-state-*", "search_gen_state-*",
                  "basic-variant-state-*")


def untrusted_reason(path: Path, uid: int) -> str | None:
    """Why ``path`` cannot be trusted (a link, another owner, writable by others), or None."""
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        return f"{path} is a symlink (to {os.readlink(path)})"
    if info.st_uid != uid:
        return f"{path} is owned by uid {info.st_uid}, not by you (uid {uid})"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        mode = stat.S_IMODE(info.st_mode)
        return f"{path} is writable by its group or by others (mode {mode:o})"
    return None


def state_files(folder: Path) -> list[Path]:
    """The experiment folder's and its trial folders' restore state (not checkpoints' data)."""
    found = []
    for directory, subdirs, files in os.walk(folder):
        # Trial checkpoints are safetensors and weights_only torch files: not unpickled code.
        subdirs[:] = [d for d in subdirs if not d.startswith(("checkpoint_", "results"))]
        found += [Path(directory) / name for name in files
                  if any(fnmatch.fnmatch(name, pattern) for pattern in STATE_PATTERNS)]
    return sorted(found)


def check_resume_state(experiment_path: str, *, is_local: bool, display: str,
                       trust_storage: bool) -> None:
    """Refuse to resume from state others could have written; see the module docstring.

    Raises:
        UsageError: a state file or folder is not the user's own or is writable by others.
    """
    if trust_storage:
        return
    if not is_local:
        print(f"warning: {display} is not a local or NFS folder: its files' owners and "
              "permissions cannot be checked, and resume unpickles Ray Tune's state from it; "
              "make sure only you can write there (pass --trust-storage to silence this)",
              flush=True)
        return
    folder = Path(experiment_path)
    uid = os.geteuid()
    for path in [folder, *sorted({p.parent for p in state_files(folder)}), *state_files(folder)]:
        reason = untrusted_reason(path, uid)
        if reason is not None:
            raise UsageError(
                f"resume refused: {reason}; Ray Tune unpickles this experiment's state on "
                "resume, so whoever can write it can run code as you. Fix the owner or the "
                "permissions (chown, chmod go-w), or pass --trust-storage if you trust "
                "everyone who can write there")
