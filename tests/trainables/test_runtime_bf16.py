"""bf16 autocast is honoured only where it is fast: CUDA, or a CPU with native bf16."""

from __future__ import annotations

import torch

from trainables import runtime


def test_cpu_without_native_bf16_computes_in_fp32(monkeypatch) -> None:
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: False)
    monkeypatch.delenv("PRUNESWEEP_CPU_BF16", raising=False)
    cpu = torch.device("cpu")
    assert runtime.bf16_used(cpu, True) is False
    with runtime.autocast(cpu, True):
        out = torch.nn.Linear(4, 4)(torch.randn(2, 4))
    assert out.dtype == torch.float32


def test_native_bf16_or_force_keeps_bf16(monkeypatch) -> None:
    cpu = torch.device("cpu")
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: True)
    assert runtime.bf16_used(cpu, True) is True
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: False)
    monkeypatch.setenv("PRUNESWEEP_CPU_BF16", "force")
    with runtime.autocast(cpu, True):
        out = torch.nn.Linear(4, 4)(torch.randn(2, 4))
    assert out.dtype == torch.bfloat16


def test_off_stays_off_and_cuda_is_untouched(monkeypatch) -> None:
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: True)
    assert runtime.bf16_used(torch.device("cpu"), False) is False
    assert runtime.bf16_used(torch.device("cuda"), True) is True
