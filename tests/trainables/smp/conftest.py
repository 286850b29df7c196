"""Fixtures for the SMP tests: the in-memory tiny BERT and 128-token batches."""

from __future__ import annotations

import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(1)  # 2 shared cores: more threads only contend

SENTENCES = [
    "the film was good",
    "a dog saw the cat in the park",
    "the book is bad and dull",
    "really great music and a happy ending",
    "the trip was long",
    "the show seems quite boring",
]


@pytest.fixture(scope="session")
def tokenizer():
    from trainables.models import load_tokenizer

    return load_tokenizer("tiny")


def make_batch(tokenizer, n: int, *, pair: bool = False, max_length: int = 128) -> dict:
    """``n`` tokenised examples padded to ``max_length``, as the data module hands them over."""
    first = [SENTENCES[i % len(SENTENCES)] for i in range(n)]
    second = [SENTENCES[(i + 1) % len(SENTENCES)] for i in range(n)] if pair else None
    enc = tokenizer(first, second, padding="max_length", max_length=max_length,
                    truncation=True, return_tensors="pt")
    batch = {k: enc[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
    batch["labels"] = torch.arange(n) % 2
    batch["idx"] = torch.arange(n)
    return batch


@pytest.fixture(scope="session")
def batch(tokenizer):
    return make_batch(tokenizer, 6)


@pytest.fixture()
def tiny_eager():
    from trainables.models import load_classifier

    return load_classifier("tiny", 2, attn_implementation="eager", seed=0).eval()


@pytest.fixture(scope="session")
def make(tokenizer):
    """``make(n, pair=False, max_length=128)`` -> a tensor dict of ``n`` examples."""

    def build(n: int, **kwargs) -> dict:
        return make_batch(tokenizer, n, **kwargs)

    return build
