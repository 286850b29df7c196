"""Paired pruned/dense latency of the final report."""

from __future__ import annotations

import torch

from trainables.latency import dense_twin
from trainables.latency import paired_latency_ms
from trainables.models import load_classifier
from trainables.smp import prune_heads


def test_pair_times_both_models_and_keeps_the_random_state(make):
    model = load_classifier("tiny", 2, seed=0)
    keep = torch.ones(4, 4, dtype=torch.bool)
    keep[:, :2] = False
    prune_heads(model, keep)
    model.train()
    state = torch.get_rng_state()
    times = paired_latency_ms(model, make(8), device=torch.device("cpu"), rounds=3)
    assert set(times) == {"latency_ms", "dense_latency_ms", "speedup"}
    assert times["speedup"] == times["dense_latency_ms"] / times["latency_ms"]
    assert all(t > 0 for t in times.values())
    assert torch.equal(state, torch.get_rng_state()) and model.training  # nothing disturbed
    twin = dense_twin(model, torch.device("cpu"))
    query = twin.bert.encoder.layer[0].attention.self.query
    assert query.out_features == 32 and model.bert.encoder.layer[0].attention.self.query \
        .out_features == 16
