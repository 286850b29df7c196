"""The SMP authors' released pruners: pinned, fetched once, verified before use.

``pruner=released-base`` / ``released-large`` name the CNNs the authors published with their
code (repository thunlp/SMP, ``checkpoints/base.bin`` and ``large.bin``, meta-trained on
bert-base-uncased / bert-large-uncased attention maps over seven GLUE tasks). They are read
from ``<storage_root>/_artifacts/smp_released/<file>`` (beside the other shared artifacts,
so every trial of a storage root shares one copy); on first use the file is downloaded there
from a URL pinned to one commit, through a temporary file, and published only if its SHA-256
is the pinned one. A file whose checksum differs is refused, never used. Offline
(``HF_HUB_OFFLINE=1`` and its siblings, or no network) the fetch fails at once with a message
naming the file to download and where to put it.

Only ``base.bin``'s checksum is known to this project (../shared/data/smp/README.md).
``large.bin``'s is not, so ``released-large`` refuses to run rather than trust an
unverified file: download it, check it yourself and pass its path as ``pruner=PATH``.

Torch-free, so ``launch`` fetches and checks the file before a cluster starts.

Example:
    >>> path = released_checkpoint("released-base", "/data/sweeps")   # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from trainables.artifacts import ARTIFACTS_DIRNAME
from trainables.hub import hub_offline_flag

RELEASED_DIRNAME = "smp_released"
# The commit of thunlp/SMP that holds both checkpoints: a moving branch could change the file.
SMP_COMMIT = "2a3aa0426f439c5f0b5e10c36130598bf0540de8"
_RAW = f"https://github.com/thunlp/SMP/raw/{SMP_COMMIT}/checkpoints"
FETCH_TIMEOUT_S = 30.0
Opener = Callable[..., IO[bytes]]


@dataclass(frozen=True)
class ReleasedPruner:
    """One released checkpoint: where it comes from and what it must hash to."""

    name: str  # the ``pruner`` value
    file: str
    url: str
    sha256: str | None  # None: not known to this project, so the file cannot be verified
    size: int | None
    base_model: str  # what it was meta-trained on


RELEASED: dict[str, ReleasedPruner] = {
    "released-base": ReleasedPruner(
        "released-base", "base.bin", f"{_RAW}/base.bin",
        "df83917c80d5c0fdd85658288ab567608f2c3e0e50575c2d3c01593a1c79d2ff", 720_116,
        "bert-base-uncased"),
    "released-large": ReleasedPruner(
        "released-large", "large.bin", f"{_RAW}/large.bin", None, None, "bert-large-uncased"),
}


class ReleasedPrunerError(ValueError):
    """A released pruner is unknown, unverifiable, corrupted or cannot be fetched.

    A ``ValueError`` like ``PrunerCheckpointError``, but torch-free: the orchestrator's
    pre-flight imports this module before any trial starts.
    """


def released_dir(storage_root: str | Path | None) -> Path:
    """Where released checkpoints are kept (the user cache when a trial has no storage root)."""
    if storage_root is None:
        return Path("~/.cache/prunesweep").expanduser() / RELEASED_DIRNAME
    return Path(storage_root).expanduser() / ARTIFACTS_DIRNAME / RELEASED_DIRNAME


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _spec(name: str) -> ReleasedPruner:
    try:
        spec = RELEASED[name]
    except KeyError:
        raise ReleasedPrunerError(
            f"`pruner` {name!r}: not a released pruner; valid: {', '.join(RELEASED)}") from None
    if spec.sha256 is None:
        raise ReleasedPrunerError(
            f"`pruner` {name!r}: this project knows no checksum of the authors' {spec.file} "
            f"({spec.url}), and an unverified file is not used; download it, check it, and "
            f"pass its path instead: --set pruner=/path/to/{spec.file}")
    return spec


def _download_hint(spec: ReleasedPruner, target: Path) -> str:
    return (f"download {spec.url} (sha256 {spec.sha256}) and put it at {target}, or pass "
            f"a local copy with --set pruner=/path/to/{spec.file}")


def verify(path: Path, spec: ReleasedPruner) -> str:
    """The file's SHA-256, or :class:`ReleasedPrunerError` if it is not the pinned one."""
    digest = sha256_of(path)
    if digest != spec.sha256:
        raise ReleasedPrunerError(
            f"{path}: sha256 {digest} is not the pinned {spec.sha256} of the authors' "
            f"{spec.file} (a corrupted or different file is refused); delete it and "
            f"{_download_hint(spec, path)}")
    return digest


def fetch(spec: ReleasedPruner, target: Path, opener: Opener | None = None) -> None:
    """Download ``spec`` to ``target`` through a temporary file; publish it only if verified."""
    if hub_offline_flag():
        raise ReleasedPrunerError(
            f"`pruner` {spec.name!r}: {target} is missing and downloads are switched off "
            f"(HF_HUB_OFFLINE/HF_DATASETS_OFFLINE/TRANSFORMERS_OFFLINE); "
            f"{_download_hint(spec, target)}")
    opener = opener or urllib.request.urlopen
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")  # one per process: no clash
    try:
        try:
            with opener(spec.url, timeout=FETCH_TIMEOUT_S) as response, tmp.open("wb") as out:
                for block in iter(lambda: response.read(1 << 20), b""):
                    out.write(block)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise ReleasedPrunerError(
                f"`pruner` {spec.name!r}: fetching {spec.url} failed ({exc}); "
                f"{_download_hint(spec, target)}") from exc
        verify(tmp, spec)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def released_checkpoint(name: str, storage_root: str | Path | None,
                        opener: Opener | None = None) -> tuple[Path, str]:
    """``(path, sha256)`` of the released pruner ``name``, fetched on first use.

    Raises:
        ReleasedPrunerError: unknown name, no pinned checksum, a local copy whose checksum
            differs, or a fetch that is switched off or fails (the message names the URL,
            the checksum and where to put the file).
    """
    spec = _spec(name)
    target = released_dir(storage_root) / spec.file
    if not target.is_file():
        fetch(spec, target, opener)
    return target, verify(target, spec)
