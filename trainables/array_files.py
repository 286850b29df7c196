"""Arrays as ``.npy`` files that many processes memory-map, with an integrity record.

A shared artifact that trials read row by row (CAP's teacher logits and banks) is written
as one ``.npy`` file per array plus ``integrity.json``, written last, holding each file's
size, shape, dtype and SHA-256. :func:`check_arrays` verifies all of that (the artifact
store's ``validate``), so a truncated or altered file is rebuilt rather than half-read;
:func:`map_arrays` then opens the files with ``np.load(mmap_mode="c")``: every process on a
node shares the same page-cache pages, nothing is copied, and a stray write would stay in
the writer's private copy instead of reaching the file (``"r"`` would make such a write
crash the process through torch, which cannot mark a tensor read-only).

Example:
    >>> write_arrays(folder, {"logits": np.zeros((4, 2), np.float32)})   # doctest: +SKIP
    >>> check_arrays(folder) is None                                      # doctest: +SKIP
    True
    >>> map_arrays(folder)["logits"].shape                                # doctest: +SKIP
    (4, 2)
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

INTEGRITY = "integrity.json"
_CHUNK = 1 << 20


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_arrays(folder: Path, arrays: Mapping[str, np.ndarray]) -> None:
    """Save each array as ``<name>.npy`` in ``folder``, then the integrity record."""
    record: dict[str, Any] = {}
    for name, array in arrays.items():
        path = folder / f"{name}.npy"
        np.save(path, np.ascontiguousarray(array))
        record[name] = {"bytes": path.stat().st_size, "shape": list(array.shape),
                        "dtype": str(array.dtype), "sha256": _sha256(path)}
    tmp = folder / f".{INTEGRITY}.tmp"
    tmp.write_text(json.dumps(record, indent=2))
    os.replace(tmp, folder / INTEGRITY)


def check_arrays(folder: Path) -> str | None:
    """None when every recorded file is whole and unaltered, else what is wrong."""
    record_path = folder / INTEGRITY
    if not record_path.is_file():
        return f"no {INTEGRITY} in {folder}"
    try:
        record = json.loads(record_path.read_text())
    except json.JSONDecodeError as exc:
        return f"unreadable {INTEGRITY} in {folder}: {exc}"
    for name, expected in record.items():
        path = folder / f"{name}.npy"
        if not path.is_file():
            return f"{path} is missing"
        size = path.stat().st_size
        if size != expected["bytes"]:
            return f"{path} has {size} bytes, {expected['bytes']} were written"
        if _sha256(path) != expected["sha256"]:
            return f"{path} does not match its SHA-256 (altered after it was written)"
    return None


def map_arrays(folder: Path) -> dict[str, np.ndarray]:
    """Memory-map every array of the integrity record (call :func:`check_arrays` first).

    Raises:
        ValueError: a file's shape or dtype differs from its record.
    """
    record = json.loads((folder / INTEGRITY).read_text())
    arrays = {}
    for name, expected in record.items():
        array = np.load(folder / f"{name}.npy", mmap_mode="c")
        if list(array.shape) != expected["shape"] or str(array.dtype) != expected["dtype"]:
            raise ValueError(f"{folder / name}.npy holds {array.dtype}{list(array.shape)}, "
                             f"its record says {expected['dtype']}{expected['shape']}")
        arrays[name] = array
    return arrays


__all__ = ["INTEGRITY", "check_arrays", "map_arrays", "write_arrays"]


def safetensors_problem(path: Path) -> str | None:
    """What is wrong with the safetensors file ``path`` (unreadable header, truncated or
    padded data), or None, without reading its tensors.

    The format is an 8-byte little-endian header length, a JSON header giving each tensor's
    ``data_offsets`` and then the data; a whole file ends exactly where the last tensor
    does. A file cut short (a full disk, a killed copy) otherwise fails inside every trial
    that maps it, or, for a model, when it is finally loaded.
    """
    import struct

    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                return f"{path} is truncated ({size} bytes: no header)"
            (length,) = struct.unpack("<Q", head)
            if length > size - 8:
                return f"{path} is truncated: its header alone needs {length} bytes"
            header = json.loads(fh.read(length))
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        return f"{path} has an unreadable safetensors header ({exc})"
    if not isinstance(header, dict):
        return f"{path} has an unreadable safetensors header (not an object)"
    end = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if not (isinstance(offsets, list) and len(offsets) == 2
                and all(isinstance(o, int) for o in offsets) and 0 <= offsets[0] <= offsets[1]):
            return f"{path}: tensor {name!r} has no valid data_offsets"
        end = max(end, offsets[1])
    expected = 8 + length + end
    if size != expected:
        return (f"{path} is {'truncated' if size < expected else 'longer than its header says'}"
                f": {size} bytes, its header describes {expected}")
    return None


def check_safetensors_folder(folder: Path) -> str | None:
    """The first problem of any ``*.safetensors`` file under ``folder`` (an artifact store
    ``validate``), or None."""
    for path in sorted(Path(folder).rglob("*.safetensors")):
        problem = safetensors_problem(path)
        if problem is not None:
            return problem
    return None
