"""Put a baked (masked) model's linears in the storage that runs fastest, and save/load that.

:func:`sparsify` walks every ``nn.Linear`` of a model whose pruned weights are exact zeros (a
CAP ``pruned_model/``, any baked or masked model), times dense against the sparse kernels of
:mod:`trainables.sparse.kernels` at the serving batch size (:func:`choose_kernel`), and swaps
in the winner; the returned :class:`SparsePlan` says what each layer got and why.

On disk the sparse form is the stock Hugging Face folder (weights with their zeros, so any
tool can still read it) plus :data:`PLAN_FILE`, naming the sparse layers, their kernel and
the measured speed-up; :func:`load_sparse` rebuilds the sparse model from the two.

Example:
    >>> model, plan = sparsify(baked, tokens=32 * 128)                 # doctest: +SKIP
    >>> plan.sparse_layers()[:1]                                        # doctest: +SKIP
    ['bert.encoder.layer.0.attention.self.query']
    >>> save_plan(plan, "served/")                                      # doctest: +SKIP
    >>> model = load_sparse("served/")                                  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainables.sparse import native
from trainables.sparse import whole_model
from trainables.sparse.kernels import DENSE
from trainables.sparse.kernels import TILED
from trainables.sparse.kernels import build_kernel
from trainables.sparse.kernels import candidate_kernels
from trainables.sparse.plan import PLAN_FILE
from trainables.sparse.plan import SparsePlan
from trainables.sparse.swap import feeds_attention
from trainables.sparse.swap import install
from trainables.sparse.timing import MAX_DENSITY
from trainables.sparse.timing import MIN_GAIN
from trainables.sparse.timing import TimingCache
from trainables.sparse.timing import choice_record
from trainables.sparse.timing import choose_kernel

@torch.no_grad()
def sparsify(model: nn.Module, tokens: int, *, cache: TimingCache | None = None,
             min_gain: float = MIN_GAIN, max_density: float = MAX_DENSITY,
             bf16: bool = False, tune_inputs: Mapping[str, torch.Tensor] | None = None,
             tune_rounds: int = 2) -> tuple[nn.Module, SparsePlan]:
    """Swap each ``nn.Linear`` of ``model`` for its fastest storage, in place.

    Each layer is timed alone first; with ``tune_inputs`` the choices are then regrouped on
    the whole model's measured latency, and the model is kept dense unless it is faster as a
    whole (:func:`trainables.sparse.whole_model.tune_whole_model`): what a served model and a
    trial's ``speedup`` should use. Without it, only the per-layer verdicts apply.

    Args:
        model: a baked model (pruned weights are zeros) on the target device.
        tokens: rows per linear call at serving time (batch size x sequence length).
        cache: timing verdicts to reuse and extend; in-process only by default.
        min_gain: how much faster a sparse kernel must be to replace dense.
        max_density: linears denser than this stay dense without timing.
        bf16: the model will run under bf16 autocast: time the candidates that way.
        tune_inputs: one serving batch (``input_ids``, ...) on the model's device, to tune
            and guard the choice on the whole model.
        tune_rounds: alternating passes per candidate in that tuning.

    Returns:
        ``(model, plan)``; ``model`` is the argument, changed in place.
    """
    if tokens < 1:
        raise ValueError(f"`tokens` must be >= 1, but got {tokens=}")
    linears = [(n, m) for n, m in model.named_modules() if type(m) is nn.Linear]
    device = linears[0][1].weight.device if linears else torch.device("cpu")
    cache = cache or TimingCache(None, device)
    plan = SparsePlan(device=str(device), tokens=tokens, threads=torch.get_num_threads())
    timed: dict[str, nn.Linear] = {}  # the layers the per-layer timing considered
    for name, linear in linears:
        choice = choose_kernel(linear, tokens, cache, min_gain=min_gain,
                               max_density=max_density, bf16=bf16)
        plan.layers[name] = {"shape": list(linear.weight.shape), **choice_record(choice)}
        if choice.sparse_ms is not None:
            timed[name] = linear
        if choice.kernel != DENSE:
            install(model, name, build_kernel(linear, choice.kernel, feeds_attention(name)))
    if tune_inputs is not None and timed:
        kernels = candidate_kernels(next(iter(timed.values())).weight)[0]
        whole_model.tune_whole_model(model, timed, plan, tune_inputs, kernels=kernels, bf16=bf16,
                         rounds=tune_rounds)
    return model, plan


def apply_plan(model: nn.Module, plan: SparsePlan) -> nn.Module:
    """Swap in the kernels ``plan`` names (no timing), in place; checks shapes and densities."""
    for name in plan.sparse_layers():
        record = plan.layers[name]
        linear = model.get_submodule(name)
        if type(linear) is not nn.Linear or list(linear.weight.shape) != record["shape"]:
            raise ValueError(f"sparse plan names {name} {record['shape']}, but the model has "
                             f"{type(linear).__name__} there")
        density = float((linear.weight != 0).sum()) / linear.weight.numel()
        if abs(density - record["density"]) > 1e-6:
            raise ValueError(f"{name}: density {density:.4f} differs from the plan's "
                             f"{record['density']:.4f} (weights changed since conversion?)")
        kernel = record["kernel"]
        if kernel == TILED and (reason := native.unavailable()) is not None:
            # the same product through torch's CSR: slower, never wrong
            warnings.warn(f"{name}: the plan's csr_tiled cannot run here ({reason}); using "
                          "csr_addmm (run `convert` again on this machine to re-time)",
                          stacklevel=2)
            kernel = "csr_addmm"
        install(model, name, build_kernel(linear, kernel, feeds_attention(name)))
    return model


def save_plan(plan: SparsePlan, directory: Path | str) -> Path:
    """Write :data:`PLAN_FILE` into ``directory`` atomically; returns its path."""
    path = Path(directory) / PLAN_FILE
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".sparse-", suffix=".json")
    with os.fdopen(fd, "w") as handle:
        json.dump(plan.to_json(), handle, indent=1)
    os.replace(tmp, path)
    return path


def read_plan(directory: Path | str) -> SparsePlan:
    path = Path(directory) / PLAN_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{directory} has no {PLAN_FILE}: not a sparse model folder "
                                "(write one with `python -m trainables.sparse convert`)")
    try:
        data = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise SparsePlanError(f"{path} is not valid JSON ({exc}); write it again with "
                              "`python -m trainables.sparse convert`") from None
    problem = _plan_problem(data)
    if problem:
        raise SparsePlanError(f"{path} is not a sparse-layer plan: {problem}; write it "
                              "again with `python -m trainables.sparse convert`")
    return SparsePlan.from_json(data)


class SparsePlanError(ValueError):
    """:data:`PLAN_FILE` is damaged or not a plan; the message names the file."""


def _plan_problem(data: Any) -> str | None:
    """What :meth:`SparsePlan.from_json` and :func:`apply_plan` would trip over, or None:
    a garbled plan used to end in a KeyError or TypeError that named no file."""
    if not isinstance(data, dict):
        return f"it holds a {type(data).__name__}, not an object"
    for key, kind in (("device", str), ("tokens", int), ("threads", int), ("layers", dict)):
        if not isinstance(data.get(key), kind):
            return f"{key!r} is missing or not {kind.__name__}"
    for name, record in data["layers"].items():
        if not isinstance(record, dict) or not isinstance(record.get("kernel"), str):
            return f"layer {name!r} has no kernel"
        if record["kernel"] != DENSE and not (
                isinstance(record.get("shape"), list)
                and isinstance(record.get("density"), (int, float))):
            return f"layer {name!r} lacks its shape or density"
    for key in ("speed", "tuning"):
        if key in data and not isinstance(data[key], dict):
            return f"{key!r} is not an object"
    return None


def load_sparse(directory: Path | str, *, device: str | torch.device = "cpu",
                remeasure: bool = False, cache: TimingCache | None = None) -> nn.Module:
    """Load a folder written by ``python -m trainables.sparse convert``, in eval mode.

    Args:
        directory: the Hugging Face folder with :data:`PLAN_FILE`.
        device: where to run it.
        remeasure: time every layer again on this machine instead of trusting the plan
            (another CPU or thread count can change the verdicts).
        cache: timing verdicts for ``remeasure``.
    """
    from transformers import AutoModelForSequenceClassification

    plan = read_plan(directory)
    model = AutoModelForSequenceClassification.from_pretrained(str(directory))
    model = model.to(device).eval()
    if remeasure:  # per layer, then tuned and guarded on the whole model, like convert
        batch = int(plan.speed.get("batch_size") or 1)  # the shape convert measured
        length = int(plan.speed.get("length") or max(1, plan.tokens // batch))
        return sparsify(model, plan.tokens, cache=cache,
                        tune_inputs=serving_batch(model, batch, length, device))[0]
    return apply_plan(model, plan)


def serving_batch(model: nn.Module, batch_size: int, length: int,
                  device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Seeded random token ids of the serving shape: what ``convert`` and the whole-model
    tuning time (the work of a pass does not depend on the tokens)."""
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(0, model.config.vocab_size, (batch_size, length), generator=generator)
    ids = ids.to(device)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids),
            "token_type_ids": torch.zeros_like(ids)}
