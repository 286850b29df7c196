"""Fixtures for the sparse-inference tests: a CAP-baked tiny BERT and its timing cache."""

from __future__ import annotations

import pytest
import torch

from trainables.sparse import timing


@pytest.fixture(autouse=True)
def _one_thread_fresh_cache():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # the CPU is shared
    timing._MEMORY.clear()  # every test times afresh unless it builds its own cache
    yield
    torch.set_num_threads(previous)
    timing._MEMORY.clear()


@pytest.fixture
def tokens() -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 100, (4, 16), generator=generator)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids),
            "token_type_ids": torch.zeros_like(ids)}
