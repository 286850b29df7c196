"""The csr_tiled C kernel: the dense linear's product on every shape, its GELU fusion, and a
clean fallback to torch's CSR wherever it cannot be built."""

from __future__ import annotations

import copy

import pytest
import torch
from sparse_models import baked_tiny
from torch import nn

from trainables.sparse import apply_plan, kernels, native, sparsify, timing
from trainables.sparse.swap import install

needs_native = pytest.mark.skipif(native.unavailable() is not None,
                                  reason=str(native.unavailable()))


def _pruned_linear(in_features: int, out_features: int, keep: float, bias: bool = True,
                   seed: int = 0) -> nn.Linear:
    torch.manual_seed(seed)
    linear = nn.Linear(in_features, out_features, bias=bias)
    with torch.no_grad():
        linear.weight.mul_(torch.rand_like(linear.weight) < keep)
    return linear


@needs_native
@pytest.mark.parametrize("tokens", [0, 1, 15, 16, 17, 100])
@pytest.mark.parametrize("shape", [(384, 1536), (1536, 384), (5, 3)])
def test_tiled_equals_the_dense_linear_on_any_token_count(tokens, shape):
    linear = _pruned_linear(*shape, keep=0.1)
    x = torch.randn(tokens, shape[0])
    got = kernels.build_kernel(linear, kernels.TILED)(x)
    assert got.shape == (tokens, shape[1]) and got.is_contiguous()
    torch.testing.assert_close(got, linear(x), atol=1e-5, rtol=1e-5)


@needs_native
def test_tiled_handles_no_bias_empty_rows_threads_and_strided_inputs():
    linear = _pruned_linear(64, 48, keep=0.05, bias=False)
    with torch.no_grad():
        linear.weight[:10] = 0  # output features with no weight at all
    tiled = kernels.build_kernel(linear, kernels.TILED)
    x = torch.randn(70, 2, 64)[:, 0]  # a strided view: the module makes it contiguous
    previous = torch.get_num_threads()
    try:
        for threads in (1, 2, 3):
            torch.set_num_threads(threads)
            torch.testing.assert_close(tiled(x), linear(x), atol=1e-5, rtol=1e-5)
    finally:
        torch.set_num_threads(previous)
    assert torch.equal(tiled(x)[:, :10], torch.zeros(70, 10))


@needs_native
def test_tiled_under_bf16_autocast_returns_what_dense_returns():
    linear = _pruned_linear(32, 16, keep=0.2)
    x = torch.randn(3, 9, 32)
    tiled = kernels.build_kernel(linear, kernels.TILED)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        got, expected = tiled(x), linear(x)
    assert got.dtype == expected.dtype == torch.bfloat16 and got.shape == expected.shape
    torch.testing.assert_close(got.float(), linear(x), atol=5e-2, rtol=2e-2)


@needs_native
def test_ffn_in_takes_over_the_gelu_and_gives_it_back(tokens):
    baked = baked_tiny(keep=0.1)
    model = copy.deepcopy(baked)
    name = "bert.encoder.layer.0.intermediate.dense"
    original = model.get_submodule(name)
    install(model, name, kernels.build_kernel(original, kernels.TILED))
    intermediate = model.bert.encoder.layer[0].intermediate
    assert intermediate.dense.activation == "gelu"
    assert isinstance(intermediate.intermediate_act_fn, kernels.FusedActivation)
    with torch.no_grad():
        torch.testing.assert_close(model(**tokens).logits, baked(**tokens).logits,
                                   atol=1e-5, rtol=1e-4)
    install(model, name, original)  # back to dense: the activation is its own module again
    assert kernels.is_exact_gelu(intermediate.intermediate_act_fn)
    with torch.no_grad():
        torch.testing.assert_close(model(**tokens).logits, baked(**tokens).logits)


def test_only_the_exact_gelu_is_fused():
    from transformers.activations import ACT2FN

    assert kernels.is_exact_gelu(ACT2FN["gelu"]) and kernels.is_exact_gelu(nn.GELU())
    assert not kernels.is_exact_gelu(nn.GELU(approximate="tanh"))
    assert not kernels.is_exact_gelu(ACT2FN["gelu_new"]) and not kernels.is_exact_gelu(nn.ReLU())


@needs_native
def test_a_sparse_model_using_tiled_equals_the_dense_masked_model(tokens, monkeypatch):
    # every timed layer picks csr_tiled: its timing is made the fastest
    real = timing._measure

    def tiled_wins(linear, kernels_, *args):
        found = real(linear, kernels_, *args)
        found["ms"][kernels.TILED] = 1e-6
        return found

    monkeypatch.setattr(timing, "_measure", tiled_wins)
    baked = baked_tiny(keep=0.1)
    sparse, plan = sparsify(copy.deepcopy(baked), 64, min_gain=0.0, max_density=1.0)
    assert {rec["kernel"] for rec in plan.layers.values()} == {kernels.TILED}
    assert all(isinstance(layer.intermediate.intermediate_act_fn, kernels.FusedActivation)
               for layer in sparse.bert.encoder.layer)
    with torch.no_grad():
        torch.testing.assert_close(sparse(**tokens).logits, baked(**tokens).logits,
                                   atol=1e-5, rtol=1e-4)


def test_without_the_kernel_torch_csr_remains_and_plans_still_load(tokens, monkeypatch):
    baked = baked_tiny(keep=0.1)
    linear = baked.bert.encoder.layer[0].output.dense
    monkeypatch.setenv(native.DISABLE_ENV, "0")
    assert "turned off" in native.unavailable()
    available, why = kernels.candidate_kernels(linear.weight)
    assert kernels.TILED not in available and "turned off" in why[kernels.TILED]
    with pytest.raises(ValueError, match="turned off"):
        kernels.build_kernel(linear, kernels.TILED)
    # a plan written where the kernel ran: its layers fall back to csr_addmm, same outputs
    _, plan = sparsify(copy.deepcopy(baked), 64, min_gain=0.0, max_density=1.0)
    for record in plan.layers.values():
        record["kernel"] = kernels.TILED
    with pytest.warns(UserWarning, match="csr_tiled cannot run here"):
        served = apply_plan(copy.deepcopy(baked), plan)
    assert {type(m).__name__ for m in served.modules()} >= {"CsrLinear"}
    with torch.no_grad():
        torch.testing.assert_close(served(**tokens).logits, baked(**tokens).logits,
                                   atol=1e-5, rtol=1e-4)


def test_a_compiler_failure_is_a_reason_not_a_crash(monkeypatch, tmp_path):
    monkeypatch.setattr(native, "_state", {})
    monkeypatch.setenv(native.DIR_ENV, str(tmp_path))
    monkeypatch.setattr(native, "_compiler", lambda: "/bin/false")
    reason = native.unavailable()
    assert reason is not None and "/bin/false failed" in reason
    assert list(tmp_path.iterdir()) == []  # no half-written library left behind
    monkeypatch.setattr(native, "_state", {})
    monkeypatch.setattr(native, "_compiler", lambda: None)
    assert "no C compiler" in native.unavailable()


@needs_native
def test_the_library_is_built_once_per_source_compiler_and_cpu(monkeypatch, tmp_path):
    monkeypatch.setenv(native.DIR_ENV, str(tmp_path))
    compiler = native._compiler()
    first = native._build(compiler)
    assert first.parent == tmp_path and first.name.startswith("spmm_tiled-")
    built = first.stat().st_mtime_ns
    assert native._build(compiler) == first and first.stat().st_mtime_ns == built
    monkeypatch.setattr(native, "_cpu_signature", lambda: "another CPU")
    assert native._build(compiler) != first  # never a library built for another CPU


def test_a_cached_verdict_without_a_kernel_is_timed_again(monkeypatch):
    linear = _pruned_linear(64, 64, keep=0.05)
    cache = timing.TimingCache(None)
    available = kernels.candidate_kernels(linear.weight)[0]
    key = timing.cache_key(linear, timing.density_of(linear.weight), 128)
    # written before csr_tiled existed
    cache.put(key, {"ms": {"dense": 1.0, "csr_addmm": 0.5, "csr_addmm_t": 0.6},
                    "measured_at": 0})
    calls = []
    real = timing._measure
    monkeypatch.setattr(timing, "_measure", lambda *a: calls.append(a) or real(*a))
    choice = timing.choose_kernel(linear, 128, cache, max_density=1.0)
    assert len(calls) == (1 if kernels.TILED in available else 0)
    assert kernels.TILED in cache.get(key)["ms"] or kernels.TILED not in available
    assert choice.kernel in ("dense", *available)


@needs_native
def test_without_openmp_the_tokens_are_split_over_python_threads(monkeypatch):
    import ctypes

    plain = ctypes.CDLL(str(native._build(native._compiler(), native.FLAGS)))
    assert plain.prunesweep_spmm_threaded() == 0
    loaded = native._load()
    for name in ("prunesweep_spmm_tiled", "prunesweep_spmm_tile_rows",
                 "prunesweep_spmm_threaded"):  # the same signatures as the loaded build
        function = getattr(plain, name)
        function.argtypes = getattr(loaded, name).argtypes
        function.restype = getattr(loaded, name).restype
    monkeypatch.setattr(native, "_state", {"lib": plain})
    linear = _pruned_linear(96, 40, keep=0.1)
    tiled = kernels.build_kernel(linear, kernels.TILED)
    for tokens in (1, 33, 200):
        x = torch.randn(tokens, 96)
        for threads in (1, 2, 5):
            got = native.spmm_tiled(x, tiled.rowptr, tiled.col, tiled.val, tiled.bias, 40,
                                    threads=threads)
            torch.testing.assert_close(got, linear(x), atol=1e-5, rtol=1e-5)


@needs_native
def test_training_through_tiled_is_refused_not_silently_gradient_free():
    linear = _pruned_linear(16, 8, keep=0.3)
    tiled = kernels.build_kernel(linear, kernels.TILED)
    x = torch.randn(4, 16, requires_grad=True)
    assert not tiled.training and tiled(x).shape == (4, 8)  # eval: inference with grad on
    tiled.train()
    with pytest.raises(RuntimeError, match="inference-only"):
        tiled(x)
    with torch.no_grad():
        assert tiled(x).shape == (4, 8)
