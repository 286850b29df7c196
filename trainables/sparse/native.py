"""Build, load and call the ``csr_tiled`` C kernel (``spmm_tiled.c``).

torch's CSR matmul runs a linear transposed and returns a column-major product; on MiniLM at
90% sparsity it is 1.0-1.6x faster than dense per layer, and the copies it causes around it
eat most of that in the whole model. ``spmm_tiled.c`` computes ``x W^T + b`` on torch's
row-major layouts: per layer 1.9-3.8x faster than dense at 90% and 2.6-8x at 97%, and the
whole MiniLM 2.3-2.7x at 90%, 3.5x at 97% (one thread, this project's CPU; see the C file
for how, ``benchmarks/sparse_kernels.py`` and ``benchmarks/sparse_speed.py`` for the figures).

The kernel is compiled at first use with the system C compiler (``$CC``, else ``cc``) for
this CPU (``-O3 -march=native``) and cached as a shared library under
``$PRUNESWEEP_NATIVE_DIR`` (default ``~/.cache/prunesweep/native``), keyed by the source,
the flags, the compiler and the CPU, so a cluster sharing a home directory never loads a
library built for another CPU. A library runs code when it is loaded, so the cache folder
and its files must be the user's own and writable by no one else, and a library is loaded
only if its sha256 matches the one recorded beside it at build time; otherwise the kernel
is refused with a warning and torch's CSR kernels remain. Nothing here is required:
without a compiler (or with ``PRUNESWEEP_NATIVE=0``) :func:`unavailable` says why and the
sparse path keeps torch's CSR kernels. The kernel is built with OpenMP where that compiles
and loads: loaded after torch, its ``libgomp.so.1`` is the one torch already loaded, so
both share one thread pool (a second OpenMP runtime would spin against torch's); the tiles
are split over torch's thread count. Without OpenMP, the tokens are split over Python
threads instead (``ctypes`` releases the GIL).

Example:
    >>> if unavailable() is None:                                # doctest: +SKIP
    ...     y = spmm_tiled(x, rowptr, col, val, bias, out_features=384)
"""

from __future__ import annotations

import ctypes
import errno
import hashlib
import os
import platform
import shutil
import stat
import subprocess
import tempfile
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

SOURCE = Path(__file__).with_name("spmm_tiled.c")
FLAGS = ("-O3", "-march=native", "-std=gnu11", "-shared", "-fPIC")
DISABLE_ENV = "PRUNESWEEP_NATIVE"  # "0" turns the kernel off (torch's CSR kernels remain)
DIR_ENV = "PRUNESWEEP_NATIVE_DIR"

_lock = threading.Lock()
_state: dict[str, object] = {}  # "lib" or "error", once per process
_pool: ThreadPoolExecutor | None = None
_pool_workers = 0


def _cpu_signature() -> str:
    """The CPU's model and feature flags: what ``-march=native`` compiles for."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        wanted = [ln for ln in lines if ln.startswith(("model name", "flags", "Features"))]
        return "\n".join(dict.fromkeys(wanted))  # one copy per distinct line, in order
    except OSError:
        return platform.processor() or platform.machine()


def _compiler() -> str | None:
    return shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")


class UntrustedCache(OSError):
    """The library cache (folder or file) could be written by someone else, or a cached
    library is not the one that was built: loading it would run their code in this process
    (a shared library's constructors run at ``dlopen``)."""


def _cache_dir() -> Path:
    return Path(os.environ.get(DIR_ENV) or Path.home() / ".cache" / "prunesweep" / "native")


def _untrusted(info: os.stat_result, what: str) -> str | None:
    """Why a file or folder with this ``stat`` cannot be trusted, or None."""
    uid = os.geteuid()
    if info.st_uid != uid:
        return f"{what} is owned by uid {info.st_uid}, not by you (uid {uid})"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return (f"{what} is writable by its group or by others "
                f"(mode {stat.S_IMODE(info.st_mode):o})")
    return None


def _check_cache_dir(directory: Path) -> None:
    """The cache folder (after symlinks) must be the user's own and writable by no one else:
    whoever can write it can plant a library with the expected name."""
    reason = _untrusted(directory.resolve().stat(), f"the kernel cache {directory}")
    if reason is not None:
        raise UntrustedCache(f"{reason}; refusing to load a library from it (chmod go-w it, "
                             f"or point ${DIR_ENV} at a private folder)")


def _open_trusted(path: Path) -> int:
    """A read-only descriptor of ``path``, refused if it is a symlink or others can write it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise UntrustedCache(f"{path} is a symlink; refusing to load it") from None
        raise
    reason = _untrusted(os.fstat(fd), str(path))
    if reason is not None:
        os.close(fd)
        raise UntrustedCache(f"{reason}; refusing to load it")
    return fd


def _sha256_fd(fd: int) -> str:
    digest = hashlib.sha256()
    os.lseek(fd, 0, os.SEEK_SET)
    while chunk := os.read(fd, 1 << 20):
        digest.update(chunk)
    return digest.hexdigest()


def _digest_path(library: Path) -> Path:
    return library.with_name(library.name + ".sha256")


def _recorded_digest(library: Path) -> str | None:
    """The sha256 written beside ``library`` when it was built (same checks), or None."""
    try:
        fd = _open_trusted(_digest_path(library))
    except FileNotFoundError:
        return None
    try:
        return os.read(fd, 256).decode("ascii", "replace").strip()
    finally:
        os.close(fd)


def _build(compiler: str, flags: tuple[str, ...] = FLAGS) -> Path:
    version = subprocess.run([compiler, "--version"], capture_output=True, text=True,
                             timeout=30).stdout
    key = hashlib.sha256("\0".join([SOURCE.read_text(), " ".join(flags), version,
                                    _cpu_signature()]).encode()).hexdigest()[:16]
    directory = _cache_dir()
    target = directory / f"spmm_tiled-{key}.so"
    if directory.exists():
        _check_cache_dir(directory)
    # a library cached by a version that recorded no digest is rebuilt (the folder is ours)
    if target.is_file() and _digest_path(target).exists():
        return target
    # private from the start: only this folder's own mode is checked, not its parents'
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    _check_cache_dir(directory)
    # compiled beside the target and renamed: two processes building at once both succeed
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".spmm_tiled-", suffix=".so")
    os.close(fd)
    digest_tmp = f"{tmp}.sha256"
    try:
        done = subprocess.run([compiler, *flags, str(SOURCE), "-o", tmp],
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise OSError(f"{compiler} failed ({done.returncode}): {done.stderr.strip()[-400:]}")
        os.chmod(tmp, 0o600)
        lib_fd = os.open(tmp, os.O_RDONLY)
        try:
            digest = _sha256_fd(lib_fd)
        finally:
            os.close(lib_fd)
        with open(os.open(digest_tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as fh:
            fh.write(digest + "\n")
        # the digest first: a reader that sees the library also sees its digest
        os.replace(digest_tmp, _digest_path(target))
        os.replace(tmp, target)
    finally:
        for leftover in (tmp, digest_tmp):
            if os.path.exists(leftover):
                os.unlink(leftover)
    return target


def _load_verified(library: Path) -> ctypes.CDLL:
    """``ctypes.CDLL`` of ``library`` once it is the user's own file, writable by no one else,
    whose sha256 is the one recorded when it was built.

    The check and the load use one descriptor (``/proc/self/fd/N``), so the file cannot be
    swapped between them.
    """
    expected = _recorded_digest(library)
    if expected is None:
        raise UntrustedCache(f"{library} has no recorded sha256 ({_digest_path(library).name}); "
                             "refusing to load it")
    fd = _open_trusted(library)
    try:
        actual = _sha256_fd(fd)
        if actual != expected:
            raise UntrustedCache(f"{library} does not match the sha256 recorded when it was "
                                 f"built ({actual[:12]}... != {expected[:12]}...); refusing "
                                 "to load it (delete it to rebuild)")
        by_fd = f"/proc/self/fd/{fd}"
        return ctypes.CDLL(by_fd if os.path.exists(by_fd) else str(library))
    finally:
        os.close(fd)


def _load() -> ctypes.CDLL | str:
    """The loaded library, or why it is unavailable (once per process)."""
    if os.environ.get(DISABLE_ENV, "1") == "0":
        return f"csr_tiled is turned off ({DISABLE_ENV}=0)"
    with _lock:
        if "lib" in _state:
            return _state["lib"]  # type: ignore[return-value]
        if "error" in _state:
            return str(_state["error"])
        compiler = _compiler()
        lib = None
        errors = []
        # OpenMP first: loaded after torch, its libgomp.so.1 resolves to the one torch
        # already loaded, so the kernel shares torch's thread pool; else plain C, and the
        # tokens are split over Python threads instead
        for flags in ((*FLAGS, "-fopenmp"), FLAGS):
            try:
                if compiler is None:
                    raise OSError("no C compiler found ($CC, cc or gcc)")
                lib = _load_verified(_build(compiler, flags))
                break
            except UntrustedCache as error:
                # a security refusal, not a missing compiler: say it out loud, once
                errors.append(str(error))
                break
            except (OSError, subprocess.SubprocessError) as error:
                errors.append(str(error))
        if lib is None:
            _state["error"] = f"csr_tiled kernel unavailable: {errors[-1]}"
            if any("refusing" in e for e in errors):
                warnings.warn(f"{_state['error']}; using torch's CSR kernels instead",
                              UserWarning, stacklevel=2)
            return str(_state["error"])
        pointer, size = ctypes.c_void_p, ctypes.c_int64
        lib.prunesweep_spmm_tiled.argtypes = [pointer, size, size, size, pointer, pointer,
                                              pointer, pointer, pointer, ctypes.c_int]
        lib.prunesweep_spmm_tiled.restype = ctypes.c_int
        lib.prunesweep_spmm_tile_rows.restype = ctypes.c_int
        lib.prunesweep_spmm_threaded.restype = ctypes.c_int
        _state["lib"] = lib
        return lib


def unavailable() -> str | None:
    """Why the ``csr_tiled`` kernel cannot run in this process, or None when it can."""
    loaded = _load()
    return loaded if isinstance(loaded, str) else None


def _executor(workers: int) -> ThreadPoolExecutor:
    global _pool, _pool_workers
    with _lock:
        if _pool is None or _pool_workers != workers:
            if _pool is not None:
                _pool.shutdown(wait=False)
            _pool, _pool_workers = ThreadPoolExecutor(workers, "csr_tiled"), workers
        return _pool


def spmm_tiled(inputs: torch.Tensor, rowptr: torch.Tensor, col: torch.Tensor,
               val: torch.Tensor, bias: torch.Tensor | None, out_features: int,
               threads: int | None = None) -> torch.Tensor:
    """``inputs @ W.T + bias`` for the CSR weight ``(rowptr int64, col int32, val float32)``.

    Args:
        inputs: ``tokens x in_features``, float32, contiguous, on the CPU.
        rowptr, col, val: the weight's CSR arrays (contiguous).
        bias: ``out_features`` floats, or None.
        out_features: rows of the weight.
        threads: token chunks run in parallel (default: torch's intra-op thread count).
    """
    lib = _load()
    if isinstance(lib, str):
        raise RuntimeError(lib)
    if inputs.dtype != torch.float32 or not inputs.is_contiguous() or inputs.device.type != "cpu":
        raise ValueError("csr_tiled takes a contiguous float32 CPU input, but got "
                         f"{inputs.dtype} on {inputs.device} (contiguous: "
                         f"{inputs.is_contiguous()})")
    tokens, in_features = inputs.shape
    out = torch.empty(tokens, out_features, dtype=torch.float32)
    if tokens == 0:
        return out
    threads = max(1, threads or torch.get_num_threads())
    bias_ptr = bias.data_ptr() if bias is not None else None
    if lib.prunesweep_spmm_threaded():  # OpenMP splits the tiles in C
        if lib.prunesweep_spmm_tiled(inputs.data_ptr(), tokens, in_features, out_features,
                                     rowptr.data_ptr(), col.data_ptr(), val.data_ptr(),
                                     bias_ptr, out.data_ptr(), threads):
            raise MemoryError("csr_tiled: could not allocate its tile buffer")
        return out
    tile = lib.prunesweep_spmm_tile_rows()
    tiles = -(-tokens // tile)
    chunks = min(threads, tiles)
    per = -(-tiles // chunks) * tile

    def run(start: int) -> int:
        rows = min(per, tokens - start)
        return lib.prunesweep_spmm_tiled(
            inputs.data_ptr() + start * in_features * 4, rows, in_features, out_features,
            rowptr.data_ptr(), col.data_ptr(), val.data_ptr(), bias_ptr,
            out.data_ptr() + start * out_features * 4, 1)

    starts = list(range(0, tokens, per))
    pool = _executor(threads - 1) if chunks > 1 else None
    futures = [pool.submit(run, s) for s in starts[1:]] if pool else []
    codes = [run(starts[0])] + [f.result() for f in futures]
    if any(codes):
        raise MemoryError("csr_tiled: could not allocate its tile buffer")
    return out
