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


def linked_target_reason(link: Path, uid: int) -> str | None:
    """Why the folder a symlink leads to cannot be trusted, or None.

    A trial folder may be a symlink (e.g. onto a faster disk): Tune follows it and unpickles
    the ``params.pkl`` inside, so what counts is the target, not the link. The target, and
    the folder holding it unless that is sticky (``/tmp``), must be the user's own and
    writable by no one else: a world-writable target lets anyone swap the pickles, a
    writable parent lets anyone swap the target itself.
    """
    target = link.resolve()
    if not target.exists():
        return f"{link} is a symlink to {target}, which does not exist"
    reason = untrusted_reason(target, uid)
    if reason is not None:
        return f"{link} is a symlink to {target}, and {reason}"
    parent = target.parent
    info = parent.stat()
    # root's folders (/mnt, /scratch) are as safe as the user's; a sticky one (/tmp) lets
    # nobody else rename what is in it
    if info.st_uid not in (uid, 0):
        return (f"{link} is a symlink into {parent}, which is owned by uid {info.st_uid}, "
                f"not by you (uid {uid})")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not info.st_mode & stat.S_ISVTX:
        return (f"{link} is a symlink into {parent}, which is writable by its group or by "
                f"others (mode {stat.S_IMODE(info.st_mode):o})")
    return None


def linked_folders(folder: Path) -> list[Path]:
    """Symlinked folders under ``folder`` that :func:`state_files` walks into."""
    found = []
    for directory, subdirs, _files in _walk(folder):
        found += [Path(directory) / d for d in subdirs if (Path(directory) / d).is_symlink()]
    return sorted(found)


def _walk(folder: Path):
    """os.walk that follows symlinked folders (as Tune does) once each, never into
    checkpoints or results."""
    seen: set[str] = set()
    for directory, subdirs, files in os.walk(folder, followlinks=True):
        real = os.path.realpath(directory)
        if real in seen:  # a link loop or two links to one folder: walk it once
            subdirs[:] = []
            continue
        seen.add(real)
        # Trial checkpoints are safetensors and weights_only torch files: not unpickled code.
        subdirs[:] = [d for d in subdirs if not d.startswith(("checkpoint_", "results"))]
        yield directory, subdirs, files


def state_files(folder: Path) -> list[Path]:
    """The experiment folder's and its trial folders' restore state (not checkpoints' data),
    including what lies behind symlinked trial folders (Tune follows those links)."""
    found = []
    for directory, _subdirs, files in _walk(folder):
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
    # Symlinked folders first, by their targets: the walk below reaches the pickles behind
    # them, whose folder (lstat of the link path) would otherwise read as "a symlink" only.
    for link in linked_folders(folder):
        reason = linked_target_reason(link, uid)
        if reason is not None:
            raise _refusal(reason)
    links = {str(p) for p in linked_folders(folder)}
    files = state_files(folder)
    for path in [folder, *sorted({p.parent for p in files}), *files]:
        if str(path) in links:  # checked by its target above
            continue
        reason = untrusted_reason(path, uid)
        if reason is not None:
            raise _refusal(reason)


def _refusal(reason: str) -> UsageError:
    return UsageError(
        f"resume refused: {reason}; Ray Tune unpickles this experiment's state on "
        "resume, so whoever can write it can run code as you. Fix the owner or the "
        "permissions (chown, chmod go-w), or pass --trust-storage if you trust "
        "everyone who can write there")
