"""Tokenised toy data for the CAP core tests (a uniquely named module, safe to import)."""

from __future__ import annotations

import torch

from trainables import toy
from trainables.models import load_tokenizer

NUM_EXAMPLES = 24


def make_dataset(n: int = NUM_EXAMPLES, seed: int = 0) -> dict[str, torch.Tensor]:
    """Tokenised single-sentence toy examples as one dict of tensors, plus the row index."""
    examples = toy.generate(pair=False, num_labels=2, n=n, seed=seed)
    encoded = load_tokenizer("tiny")(
        examples.text_a, padding="max_length", truncation=True, max_length=24, return_tensors="pt"
    )
    data = dict(encoded)
    data["labels"] = torch.tensor(examples.labels, dtype=torch.long)
    data["idx"] = torch.arange(n)
    return data


def batches_of(data: dict[str, torch.Tensor], batch_size: int, order: torch.Tensor | None = None):
    """Split a dataset dict into batch dicts, optionally in a shuffled row order."""
    order = torch.arange(len(data["idx"])) if order is None else order
    return [{k: v[rows] for k, v in data.items()} for rows in order.split(batch_size)]
