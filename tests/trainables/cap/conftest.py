"""Fixtures for the CAP core tests: the tiny BERT and tokenised toy examples with ``idx``."""

from __future__ import annotations

import pytest
import torch
from cap_data import make_dataset

from trainables.models import load_classifier


@pytest.fixture(autouse=True)
def _few_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # the CPU is shared; tiny tensors gain nothing from threads
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def dataset() -> dict[str, torch.Tensor]:
    return make_dataset()


@pytest.fixture
def tiny_model():
    return load_classifier("tiny", 2, seed=0).eval()
