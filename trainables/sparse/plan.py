"""The sparse plan: which storage each linear got, why, and the measured speed-up.

:func:`trainables.sparse.convert.sparsify` writes one, :func:`~trainables.sparse.convert.
save_plan` stores it next to a Hugging Face folder as :data:`PLAN_FILE`, and
:func:`trainables.sparse.whole_model.tune_whole_model` records its tuning in it.

Example:
    >>> plan = SparsePlan(device="cpu", tokens=4096, threads=1)
    >>> plan.summary()
    '0/0 linears sparse'
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import Any

import torch

from trainables.sparse.kernels import DENSE

PLAN_FILE = "sparse_layers.json"
PLAN_VERSION = 1


@dataclass
class SparsePlan:
    """Per linear: its kernel and the timing behind it; plus the whole model's speed-up."""

    device: str
    tokens: int
    threads: int
    torch_version: str = torch.__version__
    layers: dict[str, dict[str, Any]] = field(default_factory=dict)
    speed: dict[str, float] = field(default_factory=dict)  # latency_ms, dense_latency_ms, speedup
    tuning: dict[str, Any] = field(default_factory=dict)  # whole-model tuning (whole_model.py)

    def sparse_layers(self) -> list[str]:
        return [name for name, rec in self.layers.items() if rec["kernel"] != DENSE]

    def to_json(self) -> dict[str, Any]:
        return {"version": PLAN_VERSION, "device": self.device, "tokens": self.tokens,
                "threads": self.threads, "torch_version": self.torch_version,
                "sparse_layers": self.sparse_layers(), "speed": self.speed,
                "tuning": self.tuning, "layers": self.layers}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SparsePlan:
        return cls(device=data["device"], tokens=data["tokens"], threads=data["threads"],
                   torch_version=data.get("torch_version", "?"), layers=data["layers"],
                   speed=data.get("speed", {}), tuning=data.get("tuning", {}))

    def summary(self) -> str:
        sparse = self.sparse_layers()
        line = f"{len(sparse)}/{len(self.layers)} linears sparse"
        if self.tuning.get("kept_dense"):
            line += " (whole model not faster sparse: kept dense)"
        if self.speed:
            line += (f"; {self.speed['latency_ms']:.1f} ms vs dense "
                     f"{self.speed['dense_latency_ms']:.1f} ms: {self.speed['speedup']:.2f}x")
        return line
