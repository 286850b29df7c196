"""The storage root: a local (or NFS) folder, or any URI pyarrow's filesystems understand.

``--storage`` may be ``./experiments``, ``/nfs/exps``, ``file:///nfs/exps`` or a URI such as
``s3://bucket/exps`` (query options pass through to pyarrow, e.g.
``s3://bucket/exps?endpoint_override=minio:9000&scheme=http``). Everything the orchestrator
writes under it goes through this module: small files are written whole to a temporary
name and moved into place on a POSIX filesystem, and written with one PUT (atomic on object
stores) elsewhere.

Example:
    >>> storage = open_storage("/tmp/exps")
    >>> storage.join("demo", "results")
    '/tmp/exps/demo/results'
"""

from __future__ import annotations

import fnmatch
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs

# One redaction helper for the messages of both packages: the analysis owns it (it imports
# no sibling package); ``orchestrator.storage.redact`` stays the orchestrator's name for it.
from analysis.errors import redact
from orchestrator.errors import UsageError


@dataclass(frozen=True)
class Storage:
    text: str  # what the user gave (may hold credentials: print ``display``, not this)
    fs: pafs.FileSystem
    root: str  # the root's path on ``fs`` (absolute for a local folder)
    query: str = ""  # URI options (``?endpoint_override=...``) kept for sub-URIs

    @property
    def display(self) -> str:
        """``text`` for messages, with any credentials redacted."""
        return redact(self.text)

    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, pafs.LocalFileSystem)

    @property
    def tune_filesystem(self) -> pafs.FileSystem:
        """The filesystem Ray Tune writes its state and checkpoints through.

        Locally, one that replaces files atomically (:mod:`orchestrator.atomic_fs`): Tune
        itself overwrites its state in place, which a full disk truncates.
        """
        if not self.is_local:
            return self.fs
        from orchestrator.atomic_fs import atomic_local_filesystem

        return atomic_local_filesystem()

    def join(self, *parts: str) -> str:
        return "/".join([self.root.rstrip("/"), *parts])

    def uri(self, path: str) -> str:
        """A URI (or local path) for ``path`` that pyarrow, Ray and the analysis accept."""
        if self.is_local:
            return path
        scheme = self.text.split("://", 1)[0]
        return f"{scheme}://{path}" + (f"?{self.query}" if self.query else "")

    def exists(self, path: str) -> bool:
        return self.fs.get_file_info(path).type != pafs.FileType.NotFound

    def is_file(self, path: str) -> bool:
        return self.fs.get_file_info(path).type == pafs.FileType.File

    def makedirs(self, path: str) -> None:
        self.fs.create_dir(path, recursive=True)

    def read_bytes(self, path: str) -> bytes:
        with self.fs.open_input_stream(path) as fh:
            return fh.read()

    def read_text(self, path: str) -> str:
        return self.read_bytes(path).decode()

    def write_bytes(self, path: str, data: bytes, *, exclusive: bool = False) -> bool:
        """Write ``data`` whole; with ``exclusive`` do nothing if ``path`` exists (-> False)."""
        if exclusive and self.exists(path):
            return False
        if self.is_local:
            tmp = f"{path}.{uuid.uuid4().hex[:8]}.tmp"
            tmp = os.path.join(os.path.dirname(tmp), "." + os.path.basename(tmp))
            try:
                with open(tmp, "wb") as fh:
                    fh.write(data)
                os.replace(tmp, path)
            except BaseException:
                # A full disk: leave no half-written temporary file behind.
                if os.path.exists(tmp):
                    os.unlink(tmp)
                raise
        else:
            with self.fs.open_output_stream(path) as fh:
                fh.write(data)
        return True

    def write_text(self, path: str, text: str) -> None:
        self.write_bytes(path, text.encode())

    def list_names(self, folder: str, pattern: str = "*") -> list[str]:
        """Names (not paths) of the files in ``folder`` matching ``pattern``, sorted."""
        infos = self.fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True))
        return sorted(i.base_name for i in infos
                      if i.type == pafs.FileType.File and fnmatch.fnmatch(i.base_name, pattern))

    def upload(self, local: Path, path: str) -> None:
        self.write_bytes(path, local.read_bytes())

    def download(self, path: str, local: Path) -> None:
        local.parent.mkdir(parents=True, exist_ok=True)
        tmp = local.with_name(f".{local.name}.{uuid.uuid4().hex[:8]}.tmp")
        tmp.write_bytes(self.read_bytes(path))
        os.replace(tmp, local)

    def check_writable(self) -> None:
        probe = self.join(f".write-test-{uuid.uuid4().hex[:8]}")
        try:
            self.makedirs(self.root)
            self.write_bytes(probe, b"")
            self.fs.delete_file(probe)
        except (OSError, pa.ArrowException) as exc:
            reason = getattr(exc, "strerror", None) or str(exc).splitlines()[0]
            raise UsageError(f"storage path {self.display} is not writable: {reason}") from None


_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_uri(text: str) -> bool:
    """``text`` names a remote location (``s3://``, ``gs://``, ...); ``file://`` is local."""
    return bool(_URI.match(text)) and not text.startswith("file://")


def check_not_empty(flag: str, text: str | None) -> None:
    """An empty path means the current directory to ``Path``; nobody means that by ``''``."""
    if text is not None and not str(text).strip():
        raise UsageError(f"{flag} {text!r}: the path is empty; give a folder (or omit the "
                         "option for its default)")


def local_folder(flag: str, text: str) -> Path:
    """``text`` as an absolute local path, refusing what is empty or a URI.

    Options that the trials read with plain file calls (``--artifacts-dir`` holds build
    locks, ``--data-dir`` is read with ``open``) cannot take a URI: ``Path`` would turn
    ``s3://KEY:SECRET@bucket/x`` into a local folder ``./s3:/KEY:SECRET@bucket/x`` and create
    it, credentials in its name. The refusal names the value with credentials redacted.
    """
    check_not_empty(flag, text)
    if is_uri(text) or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:/", text) and "@" in text:
        raise UsageError(f"{flag} {redact(text)}: must be a local (or NFS) folder, not a "
                         "URI; only --storage takes a URI")
    return Path(text.removeprefix("file://")).expanduser().resolve()


def check_path_options(args) -> None:
    """The path options of a command line, checked before anything starts (``launch``'s
    :meth:`LaunchOptions.from_args` calls this): ``--storage`` not empty, ``--data-dir`` and
    ``--artifacts-dir`` local folders. The functions that use each value check again."""
    check_not_empty("--storage", getattr(args, "storage", None))
    for flag in ("data_dir", "artifacts_dir"):
        value = getattr(args, flag, None)
        if value is not None:
            local_folder("--" + flag.replace("_", "-"), value)


def open_storage(text: str) -> Storage:
    """Resolve ``--storage``: a path (made absolute) or a pyarrow filesystem URI."""
    check_not_empty("--storage", text)
    if "://" not in text or text.startswith("file://"):
        root = Path(text.removeprefix("file://")).expanduser().resolve()
        return Storage(str(root), pafs.LocalFileSystem(), str(root))
    base, _, query = text.partition("?")
    try:
        fs, root = pafs.FileSystem.from_uri(text)
    except (pa.ArrowException, ValueError, OSError) as exc:
        raise UsageError(f"--storage {redact(base)}: pyarrow cannot open it: "
                         f"{redact(str(exc))}") from None
    from analysis.io import endpoint_problem

    problem = endpoint_problem(text)  # seconds, not pyarrow's minutes of retries
    if problem is not None:
        raise UsageError(f"--storage {redact(base)}: {problem}")
    del base
    return Storage(text, fs, root.rstrip("/"), query)


def artifacts_root(storage: Storage, artifacts_dir: str | None) -> Path:
    """Where trials keep shared artifacts: --artifacts-dir, else the storage root when it is a
    folder, else each node's local cache (an object store cannot hold the build locks)."""
    if artifacts_dir is not None:
        return local_folder("--artifacts-dir", artifacts_dir)
    return Path(storage.root) if storage.is_local else local_cache_dir()


def local_cache_dir() -> Path:
    """Node-local cache for what cannot live on an object store (the Optuna journal copy,
    artifacts when no shared --artifacts-dir is given)."""
    base = os.environ.get("PRUNESWEEP_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", str(Path.home() / ".cache")), "prunesweep")
    return Path(base)


