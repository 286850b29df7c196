"""A local pyarrow filesystem whose every written file appears whole or not at all.

Ray Tune stages its state (``experiment_state-*.json``, the searcher's pickle, ``tuner.pkl``)
and the trials' checkpoints elsewhere and copies them into the storage root with
``pyarrow.fs.copy_files``, which writes over the previous file in place. On a full disk that
copy stops half-way: the previous good state is gone and the new one is truncated, and resume
fails (or hangs, when the truncated file is the experiment state). Handed to Tune as its
``storage_filesystem``, this filesystem writes every file to a hidden temporary name in the
same folder and moves it into place only once it is complete; a failed write removes the
temporary file and leaves the previous version untouched.

Example:
    >>> import pyarrow.fs as pafs, tempfile
    >>> fs = atomic_local_filesystem()
    >>> folder = tempfile.mkdtemp()
    >>> with fs.open_output_stream(f"{folder}/state.json") as out:
    ...     _ = out.write(b"{}")
    >>> fs.get_file_info(f"{folder}/state.json").size
    2
"""

from __future__ import annotations

import os
import uuid
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs


class _AtomicFile:
    """A binary file object: writes go to a temporary file, ``close`` moves it into place."""

    def __init__(self, path: str) -> None:
        self.path = path
        folder, name = os.path.split(path)
        self.tmp = os.path.join(folder, f".{name}.{uuid.uuid4().hex[:8]}.tmp")
        self._fh = open(self.tmp, "wb")  # noqa: SIM115 (closed in close())
        self._failed = False
        self.closed = False

    def write(self, data: Any) -> int:
        try:
            return self._fh.write(data)
        except BaseException:
            self._abort()
            raise

    def flush(self) -> None:
        if not self._failed:
            self._fh.flush()

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def tell(self) -> int:
        return self._fh.tell()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._failed:
            return
        try:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()
            os.replace(self.tmp, self.path)
        except BaseException:
            self._abort()
            raise

    def _abort(self) -> None:
        self._failed = True
        try:
            self._fh.close()
        except OSError:
            pass  # closing flushes; on a full disk that fails too, and the file goes anyway
        try:
            os.unlink(self.tmp)
        except FileNotFoundError:
            pass

    def __del__(self) -> None:  # a stream dropped without close() leaves nothing behind
        if not self.closed:
            self.closed = True
            self._abort()


class AtomicLocalHandler(pafs.FileSystemHandler):
    """Delegates to ``LocalFileSystem``; output streams are :class:`_AtomicFile`."""

    def __init__(self) -> None:
        self._fs = pafs.LocalFileSystem()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, AtomicLocalHandler)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __reduce__(self) -> tuple:  # Ray pickles the filesystem to every trial
        return (AtomicLocalHandler, ())

    def get_type_name(self) -> str:
        return "prunesweep-atomic-local"

    def normalize_path(self, path: str) -> str:
        return self._fs.normalize_path(path)

    def get_file_info(self, paths: list[str]) -> list[pafs.FileInfo]:
        return self._fs.get_file_info(paths)

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        return self._fs.get_file_info(selector)

    def create_dir(self, path: str, recursive: bool) -> None:
        self._fs.create_dir(path, recursive=recursive)

    def delete_dir(self, path: str) -> None:
        self._fs.delete_dir(path)

    def delete_dir_contents(self, path: str, missing_dir_ok: bool = False) -> None:
        self._fs.delete_dir_contents(path, missing_dir_ok=missing_dir_ok)

    def delete_root_dir_contents(self) -> None:
        raise OSError("refusing to delete the contents of the filesystem root")

    def delete_file(self, path: str) -> None:
        self._fs.delete_file(path)

    def move(self, src: str, dest: str) -> None:
        self._fs.move(src, dest)

    def copy_file(self, src: str, dest: str) -> None:
        with self._fs.open_input_stream(src) as source, self.open_output_stream(dest, None) \
                as target:
            while chunk := source.read(1 << 20):
                target.write(chunk)

    def open_input_stream(self, path: str) -> pa.NativeFile:
        return self._fs.open_input_stream(path)

    def open_input_file(self, path: str) -> pa.NativeFile:
        return self._fs.open_input_file(path)

    def open_output_stream(self, path: str, metadata: Any) -> pa.NativeFile:
        return pa.PythonFile(_AtomicFile(path), mode="w")

    def open_append_stream(self, path: str, metadata: Any) -> pa.NativeFile:
        return self._fs.open_append_stream(path)


def atomic_local_filesystem() -> pafs.PyFileSystem:
    """The filesystem to hand Tune for a local (or NFS) storage root."""
    return pafs.PyFileSystem(AtomicLocalHandler())
