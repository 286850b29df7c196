"""The experiment folder: ``<storage>/<name>/`` with experiment.json, results/, optuna.journal.

Names are validated so that no name can leave the storage root, and the storage root is checked
for writability before anything starts. The storage may be a local/NFS folder or a pyarrow
filesystem URI (see :mod:`orchestrator.storage`); the Optuna journal needs a POSIX file, so on
an object store the driver keeps it in its local cache and mirrors it into the experiment
folder after every trial (``resume`` on another machine fetches the mirror).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from analysis.layout import INFO_FILE, JOURNAL, RESULTS_DIR
from orchestrator.errors import UsageError
from orchestrator.storage import Storage, local_cache_dir, open_storage, redact

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
PACKAGES = ("prunesweep", "ray", "optuna", "torch", "transformers", "datasets", "pandas",
            "pyarrow")


def validate_name(name: str) -> str:
    """A name is one path component of letters, digits, '.', '_' and '-'."""
    # fullmatch: with match() and `$`, "name\n" passed (`$` also matches before a final \n).
    if not isinstance(name, str) or not _NAME.fullmatch(name) or ".." in name:
        raise UsageError(
            f"experiment name {name!r} is not allowed: it must be one folder name made of "
            "letters, digits, '.', '_' and '-' (starting with a letter or digit), so that it "
            "cannot leave the storage root"
        )
    return name


def is_experiment_path(ref: str) -> bool:
    """Whether ``ref`` names a folder (a path or URI) rather than a name under --storage:
    a name is one path component, so anything with a separator (or "." / "..") is a path."""
    return "/" in ref or os.sep in ref or "://" in ref or ref in (".", "..")


def split_experiment_path(ref: str) -> tuple[str, str]:
    """(storage root, experiment name) of an experiment folder's path or URI.

    Example:
        >>> split_experiment_path("s3://bucket/exps/demo/?endpoint_override=minio:9000")
        ('s3://bucket/exps?endpoint_override=minio:9000', 'demo')
    """
    if "://" in ref:
        base, mark, query = ref.partition("?")
        parent, _, name = base.rstrip("/").rpartition("/")
        return parent + mark + query, name
    folder = os.path.abspath(os.path.expanduser(ref))  # "./x/", "x/.." and "." alike
    return os.path.dirname(folder), os.path.basename(folder)


def _git_sha() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, cwd=Path(__file__).resolve().parent)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def package_versions() -> dict[str, str]:
    versions = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return versions


#: The fields of experiment.json that commands read, and what each must be. A hand-edited or
#: damaged file used to end in a traceback (``int("many")``, ``record["space"]`` of a list).
def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return (isinstance(v, (int, float)) and not isinstance(v, bool)) and v == v \
        and v not in (float("inf"), float("-inf"))


def _is_objectives(v: Any) -> bool:
    return isinstance(v, list) and all(
        isinstance(o, list) and len(o) == 2 and isinstance(o[0], str) and o[1] in ("max", "min")
        for o in v)


RECORD_FIELDS: dict[str, tuple[Any, str]] = {
    "name": (lambda v: isinstance(v, str), "a string"),
    "space": (lambda v: isinstance(v, str) and bool(v), "a space name"),
    "profile": (lambda v: isinstance(v, str), "a profile name"),
    "trainable": (lambda v: isinstance(v, str), "a trainable name"),
    "num_samples": (lambda v: _is_int(v) and v >= 0, "a whole number >= 0"),
    "concurrency": (lambda v: _is_int(v) and v >= 1, "a whole number >= 1"),
    "objectives": (_is_objectives, 'a list of [metric, "max" | "min"] pairs'),
    "resources": (lambda v: isinstance(v, dict) and set(v) <= {"cpus_per_trial",
                                                              "gpus_per_trial"}
                  and all(_is_number(x) and x >= 0 for x in v.values()),
                  "an object of cpus_per_trial and gpus_per_trial (numbers >= 0)"),
    "overrides": (lambda v: isinstance(v, dict), "an object"),
    "settings": (lambda v: isinstance(v, dict), "an object"),
    "address": (lambda v: v is None or isinstance(v, str), "null or a string"),
    "reuse_actors": (lambda v: isinstance(v, bool), "true or false"),
    "time_budget_s": (lambda v: v is None or (_is_number(v) and v > 0),
                      "null or a number of seconds > 0"),
}


def check_record(record: Any, where: str) -> dict[str, Any]:
    """experiment.json is an object with a ``space``, and every field a command reads has
    the type it reads it as; otherwise one line naming the file, the field and the rule."""
    if not isinstance(record, dict):
        raise UsageError(f"{where} is damaged: it must hold a JSON object, but holds a "
                         f"{type(record).__name__}")
    if "space" not in record:
        raise UsageError(f"{where} is damaged: it has no 'space' field")
    for key, (ok, rule) in RECORD_FIELDS.items():
        if key in record and not ok(record[key]):
            raise UsageError(f"{where} is damaged: {key!r} must be {rule}, but is "
                             f"{record[key]!r:.80}")
    return record


def one_line_of(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@dataclass(frozen=True)
class Experiment:
    """One experiment folder under a storage root."""

    storage: Storage
    name: str

    @classmethod
    def at(cls, storage: str, name: str) -> Experiment:
        """The folder ``name`` under ``storage`` (validated; it need not exist yet)."""
        experiment = cls(open_storage(storage), validate_name(name))
        experiment.check_inside_root()
        return experiment

    @classmethod
    def new(cls, storage: str, name: str) -> Experiment:
        """A folder a launch may create: the storage is writable and no experiment has
        ``name`` yet (:meth:`create` checks both again before writing)."""
        experiment = cls.at(storage, name)
        experiment.check_new()
        return experiment

    @classmethod
    def open(cls, storage: str, name: str) -> Experiment:
        """An existing experiment; an unknown name lists the experiments that are there."""
        experiment = cls.at(storage, name)
        if not experiment.exists():
            known = experiment.known_names()
            listing = f" Experiments there: {', '.join(known)}" if known else ""
            raise UsageError(f"no experiment {name!r} in {experiment.storage.display}."
                             f"{listing}")
        return experiment

    @classmethod
    def find(cls, storage: str, ref: str) -> Experiment:
        """An existing experiment given by its name under ``storage``, or by its folder's own
        path or URI (``experiments/NAME``, ``/nfs/exps/NAME``, ``s3://bucket/exps/NAME``), as
        every ``analysis`` command takes it. A folder's parent is then its storage root and
        ``storage`` is not used; either way the name is one folder name inside that root."""
        if not is_experiment_path(ref):
            return cls.open(storage, ref)
        parent, name = split_experiment_path(ref)
        experiment = cls(open_storage(parent), name)
        if name in (".", "..", "") or not _NAME.fullmatch(name) or not experiment.exists():
            raise UsageError(
                f"{redact(ref)} is not an experiment folder (no {INFO_FILE} in it); pass an "
                "experiment's folder, or its name with --storage pointing at its parent")
        experiment.check_inside_root()
        return experiment

    @staticmethod
    def default_name(space: str, profile: str) -> str:
        """``<space>-<profile>-<YYYYmmdd-HHMMSS>``: the name of a launch without ``--name``."""
        return f"{space}-{profile}-{time.strftime('%Y%m%d-%H%M%S')}"

    def check_new(self) -> None:
        """Refuse an unwritable storage root or a name that is taken (exit code 2)."""
        self.storage.check_writable()
        if self.exists():
            raise UsageError(
                f"experiment {self.name!r} already exists in {self.storage.display}; continue it "
                f"with `python -m orchestrator resume {self.name}` or pick another --name"
            )

    def check_inside_root(self) -> None:
        """Refuse an experiment folder (or its results/) that a symlink leads out of the root.

        A valid name cannot leave the root, but a symlink already inside it can: the sweep
        would then write (and resume would unpickle) wherever the link points.
        """
        if not self.storage.is_local:
            return
        root = os.path.realpath(self.storage.root)
        for path in (self.path, self.results_dir):
            real = os.path.realpath(path)
            if real != root and not real.startswith(root.rstrip(os.sep) + os.sep):
                raise UsageError(
                    f"experiment {self.name!r}: {path} is a symlink to {real}, outside the "
                    f"storage root {root}; experiments must stay inside the root (remove the "
                    "link or pass --storage pointing at the real folder)")

    @property
    def path(self) -> str:
        """The folder's path on the storage's filesystem."""
        return self.storage.join(self.name)

    @property
    def uri(self) -> str:
        """The folder as a path or URI for the analysis package and messages."""
        return self.storage.uri(self.path)

    @property
    def results_dir(self) -> str:
        return self.storage.join(self.name, RESULTS_DIR)

    @property
    def metadata_file(self) -> str:
        return self.storage.join(self.name, INFO_FILE)

    @property
    def journal(self) -> Path:
        """The Optuna journal as a local file (a cached copy when the storage is remote)."""
        if self.storage.is_local:
            return Path(self.path) / JOURNAL
        digest = hashlib.sha256(self.storage.text.encode()).hexdigest()[:12]
        return local_cache_dir() / "journals" / digest / self.name / JOURNAL

    def sync_journal_up(self) -> None:
        """Mirror the local journal into the experiment folder (remote storage only)."""
        if not self.storage.is_local and self.journal.is_file():
            self.storage.upload(self.journal, self.storage.join(self.name, JOURNAL))

    def sync_journal_down(self) -> None:
        """Fetch the mirrored journal when this machine has no copy (remote storage only)."""
        remote = self.storage.join(self.name, JOURNAL)
        if not self.storage.is_local and not self.journal.is_file() \
                and self.storage.is_file(remote):
            self.storage.download(remote, self.journal)

    def exists(self) -> bool:
        return self.storage.is_file(self.metadata_file)

    def create(self, record: dict[str, Any]) -> None:
        """Create the folder and write experiment.json; refuses to overwrite an experiment."""
        self.check_new()  # again: another launch may have taken the name since
        self.storage.makedirs(self.results_dir)
        full = {"name": self.name, "created": time.time(),
                "command": [redact(arg) for arg in sys.argv],
                "versions": package_versions(), "git_sha": _git_sha(), **record}
        self.storage.write_text(self.metadata_file,
                                json.dumps(full, indent=2, default=str, sort_keys=True))

    def update(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Add or replace top-level ``fields`` of experiment.json (written whole to a temporary
        name and renamed, so a crash leaves the old record or the new one, never half of one).
        Used for what is learnt after launch: the dense baseline, a linked confirmation."""
        record = {**self.load(), **fields}
        self.storage.write_text(self.metadata_file,
                                json.dumps(record, indent=2, default=str, sort_keys=True))
        return record

    def load(self) -> dict[str, Any]:
        """experiment.json, checked by :func:`check_record` (status, resume, dashboard,
        warm-start and finish all read it here)."""
        if not self.exists():
            raise UsageError(f"no experiment {self.name!r} in {self.storage.display}")
        where = self.storage.uri(self.metadata_file)
        try:
            record = json.loads(self.storage.read_text(self.metadata_file))
        except (ValueError, UnicodeDecodeError) as exc:
            raise UsageError(f"{where} is damaged: not valid JSON ({one_line_of(exc)})") \
                from None
        return check_record(record, where)

    def known_names(self) -> list[str]:
        """Names of the experiments next to this one (for "did you mean" messages)."""
        import pyarrow.fs as pafs

        infos = self.storage.fs.get_file_info(
            pafs.FileSelector(self.storage.root, allow_not_found=True))
        return sorted(i.base_name for i in infos if i.type == pafs.FileType.Directory
                      and self.storage.is_file(self.storage.join(i.base_name, INFO_FILE)))
