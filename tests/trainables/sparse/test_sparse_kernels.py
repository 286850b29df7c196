"""Sparse storage computes what the dense-masked model computes; dense stays where it wins."""

from __future__ import annotations

import copy

import pytest
import torch
from sparse_models import baked_tiny
from torch import nn

from trainables.sparse import CsrLinear, TimingCache, choose_kernel, sparsify
from trainables.sparse import kernels, native, timing


@pytest.mark.parametrize("kernel", kernels.CPU_KERNELS)
def test_each_cpu_kernel_equals_the_dense_linear(kernel):
    torch.manual_seed(0)
    linear = nn.Linear(48, 24)
    with torch.no_grad():
        linear.weight.mul_(torch.rand_like(linear.weight) < 0.1)
    x = torch.randn(3, 7, 48)
    if kernel == kernels.TILED and native.unavailable():
        pytest.skip(native.unavailable())
    sparse = kernels.build_kernel(linear, kernel)
    assert sparse.kernel == kernel
    assert isinstance(sparse, kernels.TiledCsrLinear if kernel == kernels.TILED else CsrLinear)
    torch.testing.assert_close(sparse(x), linear(x), atol=1e-6, rtol=1e-5)


def test_sparse_model_outputs_equal_the_dense_masked_model(tokens):
    baked = baked_tiny(keep=0.1)
    # min_gain 0 and max_density 1: every encoder linear goes sparse, whatever the timing says
    sparse, plan = sparsify(copy.deepcopy(baked), 64, min_gain=0.0, max_density=1.0)
    assert len(plan.sparse_layers()) == len(plan.layers) == 4 * 6 + 2
    assert sum(getattr(m, "kernel", None) in kernels.CPU_KERNELS for m in sparse.modules()) == 26
    with torch.no_grad():
        expected = baked(**tokens).logits
        got = sparse(**tokens).logits
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)


def test_low_sparsity_falls_back_to_dense_by_measurement():
    torch.manual_seed(0)
    linear = nn.Linear(256, 256)
    with torch.no_grad():
        linear.weight.mul_(torch.rand_like(linear.weight) < 0.8)  # 20% sparse
    choice = choose_kernel(linear, 512, TimingCache(None), max_density=1.0)
    assert choice.kernel == kernels.DENSE
    assert choice.dense_ms is not None and choice.sparse_ms is not None  # it was timed
    assert choice.sparse_ms > choice.dense_ms and "dense kept" in choice.reason


def test_dense_layers_above_max_density_are_not_timed(monkeypatch):
    monkeypatch.setattr(timing, "_measure", lambda *a: pytest.fail("timed a dense layer"))
    baked = baked_tiny(keep=0.5)
    _, plan = sparsify(baked, 64)
    assert plan.sparse_layers() == []
    assert all("does not pay" in rec["reason"] for rec in plan.layers.values())


def test_verdicts_are_cached_in_process_and_on_disk(tmp_path, monkeypatch):
    linear = nn.Linear(64, 64)
    with torch.no_grad():
        linear.weight.mul_(torch.rand_like(linear.weight) < 0.05)
    first = choose_kernel(linear, 128, TimingCache(tmp_path), max_density=1.0)
    files = list(tmp_path.glob("*.json"))
    assert len(files) == 1 and f"{torch.get_num_threads()}threads" in files[0].name
    timing._MEMORY.clear()  # a new process: only the file is left
    monkeypatch.setattr(timing, "_measure", lambda *a: pytest.fail("timed again"))
    again = choose_kernel(linear, 128, TimingCache(tmp_path), max_density=1.0)
    assert (again.dense_ms, again.sparse_ms) == (first.dense_ms, first.sparse_ms)


def test_two_four_detection():
    weight = torch.zeros(8, 8)
    weight[:, 0] = weight[:, 1] = weight[:, 4] = weight[:, 7] = 1.0
    assert kernels.is_two_four(weight)
    weight[0, 2] = 1.0  # three of the first four
    assert not kernels.is_two_four(weight)


def test_semi_structured_is_reported_unavailable_on_cpu():
    linear = nn.Linear(64, 64)
    reason = kernels.semi_structured_unavailable(linear.weight)
    assert reason is not None and "CUDA" in reason
    with pytest.raises(ValueError, match="not available"):
        kernels.build_kernel(linear, "semi_structured")
    _, unavailable = kernels.candidate_kernels(linear.weight)
    assert "CUDA" in unavailable["semi_structured"]


@pytest.mark.skipif(not torch.cuda.is_available()
                    or torch.cuda.get_device_capability()[0] < 8,
                    reason="2:4 semi-structured sparsity needs a CUDA GPU with capability >= 8.0")
def test_semi_structured_equals_dense_on_a_two_four_mask():
    torch.manual_seed(0)
    linear = nn.Linear(128, 128).half().cuda()
    with torch.no_grad():
        mask = torch.tensor([1, 1, 0, 0], device="cuda", dtype=torch.half).repeat(128, 32)
        linear.weight.mul_(mask)
    x = torch.randn(64, 128, device="cuda", dtype=torch.half)
    sparse = kernels.build_kernel(linear, "semi_structured")
    torch.testing.assert_close(sparse(x), linear(x), atol=1e-2, rtol=1e-2)
    choice = choose_kernel(linear, 64, TimingCache(None, "cuda"), max_density=1.0)
    assert choice.kernel in ("dense", "semi_structured") and choice.dense_ms is not None


def test_sparse_and_dense_layers_mix_under_bf16_autocast(tokens):
    baked = baked_tiny(keep=0.1)
    mixed = copy.deepcopy(baked)
    for layer in mixed.bert.encoder.layer:  # sparse queries meet dense keys in attention
        layer.attention.self.query = kernels.build_kernel(layer.attention.self.query,
                                                          "csr_addmm")
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        got = mixed(**tokens).logits
        expected = baked(**tokens).logits
    assert got.dtype == expected.dtype
    torch.testing.assert_close(got.float(), expected.float(), atol=5e-2, rtol=5e-2)


def test_query_key_value_return_row_major_outputs_for_fused_attention(tokens):
    from trainables.sparse.swap import feeds_attention

    sparse, _ = sparsify(baked_tiny(keep=0.1), 64, min_gain=0.0, max_density=1.0)
    attention = sparse.bert.encoder.layer[0].attention
    x = torch.randn(2, 5, 32)
    assert attention.self.query(x).is_contiguous() and attention.self.value(x).is_contiguous()
    csr = [kernels.build_kernel(nn.Linear(32, 32), "csr_addmm", contiguous_output=flag)
           for flag in (True, False)]
    assert csr[0](x).is_contiguous() and not csr[1](x).is_contiguous()
    assert feeds_attention("bert.encoder.layer.3.attention.self.key")
    assert not feeds_attention("bert.encoder.layer.3.intermediate.dense")
