"""The experiment folder: ``<storage>/<name>/`` with experiment.json, results/, optuna.journal.

Names are validated so that no name can leave the storage root, and the storage root is checked
for writability before anything starts.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from orchestrator.errors import UsageError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
EXPERIMENT_JSON = "experiment.json"
RESULTS_DIR = "results"
JOURNAL = "optuna.journal"
PACKAGES = ("prunesweep", "ray", "optuna", "torch", "transformers", "datasets", "pandas",
            "pyarrow")


def validate_name(name: str) -> str:
    """A name is one path component of letters, digits, '.', '_' and '-'."""
    if not _NAME.match(name) or ".." in name:
        raise UsageError(
            f"experiment name {name!r} is not allowed: it must be one folder name made of "
            "letters, digits, '.', '_' and '-' (starting with a letter or digit), so that it "
            "cannot leave the storage root"
        )
    return name


def resolve_storage(storage: str) -> Path:
    """The absolute storage root (trials chdir into their own folder, so relative paths break)."""
    if "://" in storage and not storage.startswith("file://"):
        raise UsageError(
            f"storage {storage!r}: URIs other than file:// are not supported yet; use a path "
            "(on shared storage such as NFS for multi-node clusters)"
        )
    return Path(storage.removeprefix("file://")).expanduser().resolve()


def check_writable(root: Path) -> None:
    try:
        root.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=root, prefix=".write-test-"):
            pass
    except OSError as exc:
        raise UsageError(f"storage path {root} is not writable: {exc.strerror or exc}") from None


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str, sort_keys=True))
    os.replace(tmp, path)


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


@dataclass(frozen=True)
class Experiment:
    """One experiment folder under a storage root."""

    storage: Path
    name: str

    @classmethod
    def at(cls, storage: str, name: str) -> Experiment:
        root = resolve_storage(storage)
        path = (root / validate_name(name)).resolve()
        if path.parent != root:  # belt and braces: symlinks or odd names
            raise UsageError(f"experiment name {name!r} would leave the storage root {root}")
        return cls(root, name)

    @property
    def path(self) -> Path:
        return self.storage / self.name

    @property
    def results_dir(self) -> Path:
        return self.path / RESULTS_DIR

    @property
    def journal(self) -> Path:
        return self.path / JOURNAL

    @property
    def metadata_file(self) -> Path:
        return self.path / EXPERIMENT_JSON

    def exists(self) -> bool:
        return self.metadata_file.is_file()

    def create(self, record: dict[str, Any]) -> None:
        """Create the folder and write experiment.json; refuses to overwrite an experiment."""
        check_writable(self.storage)
        if self.exists():
            raise UsageError(
                f"experiment {self.name!r} already exists in {self.storage}; continue it with "
                f"`python -m orchestrator resume {self.name}` or pick another --name"
            )
        self.results_dir.mkdir(parents=True, exist_ok=True)
        full = {"name": self.name, "created": time.time(), "command": sys.argv,
                "versions": package_versions(), "git_sha": _git_sha(), **record}
        write_json_atomic(self.metadata_file, full)

    def load(self) -> dict[str, Any]:
        if not self.exists():
            raise UsageError(f"no experiment {self.name!r} in {self.storage}")
        return json.loads(self.metadata_file.read_text())
