"""Choose dense or sparse storage for one linear by timing both, with a cache.

Whether CSR beats a dense matmul depends on the shape, the density, the number of tokens per
call, the device, the thread count and the torch build (on this project's CPU: 3-5x *slower*
at 50% sparsity, 1.3-1.7x faster at 90%, 2-4x at 97%), so no fixed density threshold is right
everywhere. Each layer is timed once per ``(shape, density to 1%, tokens, dtype)`` on the
target device, candidates in alternation (a burst of neighbouring load hits all alike), and
the verdict is cached in-process and in a JSON file per ``(torch version, device, threads)``
under the artifacts folder, so a sweep's later trials and a served model skip the timing.

Example:
    >>> cache = TimingCache(None)                          # in-process only
    >>> choice = choose_kernel(linear, tokens=4096, cache=cache)  # doctest: +SKIP
    >>> choice.kernel, round(choice.gain, 2)               # doctest: +SKIP
    ('csr_addmm', 2.71)
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainables.sparse.kernels import DENSE
from trainables.sparse.kernels import build_kernel
from trainables.sparse.kernels import candidate_kernels

CACHE_DIRNAME = "sparse_timings"  # under <storage>/_artifacts/
# A sparse kernel must beat dense by this factor to be chosen: within timing noise, dense
# stays (a served model must never get slower by a coin flip).
MIN_GAIN = 1.1
# Above this density CSR never won in our measurements (and at 50% a single call can take
# 20-40x the dense time), so such layers stay dense without paying for a timing.
MAX_DENSITY = 0.4

_MEMORY: dict[tuple[str, str], dict[str, Any]] = {}


@dataclass(frozen=True)
class Choice:
    """The verdict for one linear: the kernel and what the timing saw (ms per call)."""

    kernel: str
    density: float
    dense_ms: float | None
    sparse_ms: float | None  # the fastest sparse candidate; None when none was timed
    reason: str

    @property
    def gain(self) -> float | None:
        """dense_ms / sparse_ms of the fastest sparse candidate (None if none was timed)."""
        if self.dense_ms is None or not self.sparse_ms:
            return None
        return self.dense_ms / self.sparse_ms


def device_label(device: torch.device) -> str:
    """``cpu`` or the CUDA device's name (timings do not carry over between GPU models)."""
    if device.type == "cuda":
        return "cuda-" + torch.cuda.get_device_name(device).replace(" ", "_")
    return device.type


class TimingCache:
    """Measured verdicts for one (torch version, device, thread count).

    Args:
        directory: where the JSON file lives (``<storage>/_artifacts/sparse_timings``), or
            None to keep the verdicts in this process only.
        device: the device the timings are for.
    """

    def __init__(self, directory: Path | str | None, device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        name = (f"torch{torch.__version__}-{device_label(self.device)}-"
                f"{torch.get_num_threads()}threads.json").replace("+", "_").replace("/", "_")
        self.path = Path(directory) / name if directory is not None else None
        self._scope = str(self.path) if self.path else f"memory:{name}"

    def get(self, key: str) -> dict[str, Any] | None:
        found = _MEMORY.get((self._scope, key))
        if found is None and self.path is not None:
            found = self._read().get(key)
            if found is not None:
                _MEMORY[(self._scope, key)] = found
        return found

    def put(self, key: str, value: dict[str, Any]) -> None:
        _MEMORY[(self._scope, key)] = value
        if self.path is None:
            return
        entries = self._read()  # merge with what another process may have written meanwhile
        entries[key] = value
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".timings-", suffix=".json")
        with os.fdopen(fd, "w") as handle:
            json.dump(entries, handle, indent=1, sort_keys=True)
        os.replace(tmp, self.path)

    def _read(self) -> dict[str, Any]:
        if self.path is None or not self.path.is_file():
            return {}
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):  # a torn or foreign file is only a lost cache
            return {}


def default_cache_dir(storage_root: str | Path | None) -> Path | None:
    """``<storage_root>/_artifacts/sparse_timings``, or None without a storage root."""
    if storage_root is None:
        return None
    from trainables.artifacts import ARTIFACTS_DIRNAME

    return Path(storage_root) / ARTIFACTS_DIRNAME / CACHE_DIRNAME


def density_of(weight: torch.Tensor) -> float:
    return float((weight != 0).sum()) / max(weight.numel(), 1)


def cache_key(linear: nn.Linear, density: float, tokens: int, bf16: bool = False) -> str:
    weight = linear.weight
    dtype = str(weight.dtype).removeprefix("torch.") + ("|autocast-bf16" if bf16 else "")
    return f"{weight.shape[0]}x{weight.shape[1]}|density{density:.2f}|tokens{tokens}|{dtype}"


@torch.no_grad()
def time_calls(calls: dict[str, Callable[[], Any]], device: torch.device, *, rounds: int = 5,
               warmup: int = 1) -> dict[str, float]:
    """Fastest ms of each call, one call of each per round (alternating) after ``warmup``.

    The minimum, not the median: a single matmul is short, and on a shared machine
    interference only ever adds time (with the median, layers of one shape and density came
    out dense in one run and sparse in the next); the whole model's latency stays a median.
    """
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for index in range(warmup + rounds):
        for name, call in calls.items():
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            call()
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if index >= warmup:
                samples[name].append(time.perf_counter() - start)
    return {name: 1000.0 * min(times) for name, times in samples.items()}


@torch.no_grad()
def choose_kernel(linear: nn.Linear, tokens: int, cache: TimingCache, *,
                  min_gain: float = MIN_GAIN, max_density: float = MAX_DENSITY,
                  rounds: int = 5, bf16: bool = False) -> Choice:
    """Dense or the fastest sparse kernel for ``linear`` on a ``tokens x in_features`` input.

    Args:
        linear: a baked linear (pruned weights are exact zeros), on the target device.
        tokens: rows per call (batch size x sequence length at inference).
        cache: where verdicts are looked up and stored.
        min_gain: the factor a sparse kernel must beat dense by.
        max_density: layers denser than this stay dense untimed.
        rounds: timed calls per candidate.
        bf16: time under bf16 autocast (as the model will run): dense gets faster there.
    """
    weight = linear.weight
    density = density_of(weight)
    kernels, unavailable = candidate_kernels(weight)
    if not kernels:
        return Choice(DENSE, density, None, None, "; ".join(sorted(set(unavailable.values()))))
    if density > max_density:
        return Choice(DENSE, density, None, None,
                      f"density {density:.2f} > {max_density}: sparse storage does not pay")
    key = cache_key(linear, density, tokens, bf16)
    found = cache.get(key)
    # an entry written before a kernel existed (or where it could not run) is timed again
    if found is None or any(k not in found["ms"] for k in (DENSE, *kernels)):
        found = _measure(linear, kernels, tokens, rounds, bf16)
        cache.put(key, found)
    times = found["ms"]
    dense_ms = times[DENSE]
    best = min(kernels, key=times.__getitem__)  # only kernels that can run here
    gain = dense_ms / times[best]
    if gain >= min_gain:
        return Choice(best, density, dense_ms, times[best], f"{best} {gain:.2f}x faster")
    return Choice(DENSE, density, dense_ms, times[best],
                  f"best sparse ({best}) only {gain:.2f}x (< {min_gain}x): dense kept")


def _measure(linear: nn.Linear, kernels: tuple[str, ...], tokens: int, rounds: int,
             bf16: bool = False) -> dict[str, Any]:
    from trainables.runtime import autocast

    weight = linear.weight
    generator = torch.Generator().manual_seed(0)  # leaves the global random state alone
    inputs = torch.randn(tokens, linear.in_features, generator=generator, dtype=weight.dtype)
    inputs = inputs.to(weight.device)
    modules = {DENSE: linear, **{k: build_kernel(linear, k) for k in kernels}}
    def call(module: nn.Module) -> Callable[[], Any]:
        def run() -> Any:
            with autocast(weight.device, bf16):
                return module(inputs)
        return run

    times = time_calls({name: call(m) for name, m in modules.items()}, weight.device,
                       rounds=rounds)
    return {"ms": times, "measured_at": time.time()}


def choice_record(choice: Choice) -> dict[str, Any]:
    """A JSON-ready dict of ``choice`` (with its gain)."""
    return {**asdict(choice), "gain": choice.gain}
