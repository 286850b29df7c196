"""Tokenised tensors: encode examples once, then cut them into padding-trimmed batches.

:func:`encode` pads every split to one ``max_length`` so the tensors can be stored and shared
(see :func:`trainables.data.load_task_data`); :func:`batches` then trims each batch back to
its longest real sequence, which is where the CPU time of short sentences is saved.

Example:
    >>> import numpy as np
    >>> from trainables.glue_sources import Examples
    >>> from trainables.models import load_tokenizer
    >>> tensors = encode(Examples(["a good film", "bad"], None, np.array([1, 0])),
    ...                  load_tokenizer("tiny"), 32)
    >>> [b["input_ids"].shape for b in batches(tensors, 2, shuffle=False)]
    [torch.Size([2, 5])]
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from collections.abc import Mapping
from itertools import chain
from typing import TYPE_CHECKING
from typing import Any

import numpy as np

from trainables.glue_sources import Examples

if TYPE_CHECKING:
    import torch

SEQUENCE_KEYS = ("input_ids", "attention_mask", "token_type_ids")


# -- tokenisation ---------------------------------------------------------------------------


def encode(examples: Examples, tokenizer: Any, max_length: int) -> dict[str, torch.Tensor]:
    """Tokenise ``examples`` into int64 tensors padded (right) to ``max_length``.

    Returns:
        ``input_ids``, ``attention_mask``, ``token_type_ids`` ``[N, max_length]``, ``labels``
        ``[N]`` (int64, or float32 for regression) and ``idx`` = ``0..N-1``.

    Example:
        >>> from trainables.models import load_tokenizer
        >>> ex = Examples(["the film is good"], None, np.array([1]))
        >>> encode(ex, load_tokenizer("tiny"), 8)["input_ids"].shape
        torch.Size([1, 8])
    """
    import torch

    specials = tokenizer.num_special_tokens_to_add(pair=examples.text_b is not None)
    if max_length <= specials:
        raise ValueError(
            f"`max_length` must exceed the {specials} special tokens, but got {max_length=}."
        )
    if tokenizer.pad_token_id is None:
        raise ValueError(f"the tokenizer {type(tokenizer).__name__} has no padding token.")
    n = len(examples)
    if n:
        # Tokenise without padding and pad in numpy: the tokenizer's own padding builds
        # N x max_length Python ints, which made SST-2's 67k rows take 2.5x as long.
        encoded = tokenizer(
            examples.text_a, examples.text_b, truncation="longest_first",
            max_length=max_length, return_token_type_ids=True, return_attention_mask=False,
        )
        ids, types = encoded["input_ids"], encoded["token_type_ids"]
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=n)
        real = np.arange(max_length) < lengths[:, None]  # right padding
        out = {
            "input_ids": _padded(ids, real, tokenizer.pad_token_id),
            "attention_mask": torch.from_numpy(real.astype(np.int64)),
            "token_type_ids": _padded(types, real, tokenizer.pad_token_type_id),
        }
    else:  # the tokenizer cannot batch zero texts
        out = {key: torch.zeros((0, max_length), dtype=torch.int64) for key in SEQUENCE_KEYS}
    floating = np.issubdtype(examples.labels.dtype, np.floating)
    labels = np.array(examples.labels, dtype=np.float32 if floating else np.int64, copy=True)
    out["labels"] = torch.from_numpy(labels)
    out["idx"] = torch.arange(n, dtype=torch.int64)
    return out


def _padded(rows: list[list[int]], real: np.ndarray, pad_value: int) -> torch.Tensor:
    import torch

    out = np.full(real.shape, pad_value, dtype=np.int64)
    out[real] = np.fromiter(chain.from_iterable(rows), dtype=np.int64, count=int(real.sum()))
    return torch.from_numpy(out)


def tokenizer_fingerprint(tokenizer: Any) -> dict[str, Any]:
    """What determines a tokenizer's output: class, vocabulary/pipeline hash, lowercasing."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        spec = json.loads(backend.to_str())
        # The backend records the padding/truncation of its last call; that is not identity.
        spec.pop("padding", None)
        spec.pop("truncation", None)
        blob = json.dumps(spec, sort_keys=True)
    else:
        blob = json.dumps(sorted(tokenizer.get_vocab().items()))
    cls = type(tokenizer)
    return {
        "class": f"{cls.__module__}.{cls.__qualname__}",
        "backend_sha256": hashlib.sha256(blob.encode()).hexdigest()[:16],
        "do_lower_case": getattr(tokenizer, "do_lower_case", None),
    }


# -- batching -------------------------------------------------------------------------------


def batches(
    tensors: Mapping[str, torch.Tensor],
    batch_size: int,
    *,
    shuffle: bool,
    generator: torch.Generator | None = None,
    trim_padding: bool = True,
) -> Iterator[dict[str, torch.Tensor]]:
    """Batches of ``batch_size`` rows of ``tensors`` as dicts (the last batch may be short).

    Args:
        tensors: equal-length tensors, as :func:`encode` returns.
        batch_size: rows per batch.
        shuffle: visit rows in a random order drawn from ``generator``.
        generator: the random source for ``shuffle`` (torch's global one if None).
        trim_padding: cut ``input_ids``/``attention_mask``/``token_type_ids`` after the last
            column any row of the batch attends to. With right padding and an attention mask
            BERT's outputs for real tokens do not change, and short sentences run much faster.

    Example:
        >>> import torch
        >>> t = {"input_ids": torch.tensor([[5, 0, 0], [6, 7, 0]]),
        ...      "attention_mask": torch.tensor([[1, 0, 0], [1, 1, 0]])}
        >>> [b["input_ids"].shape[1] for b in batches(t, 1, shuffle=False)]
        [1, 2]
    """
    import torch

    # Checked here, not inside the generator, so that a bad call fails where it is made.
    if batch_size < 1:
        raise ValueError(f"`batch_size` must be >= 1, but got {batch_size=}.")
    sizes = {key: len(value) for key, value in tensors.items()}
    if len(set(sizes.values())) > 1:
        raise ValueError(f"all tensors must have the same number of rows, but got {sizes}.")
    n = next(iter(sizes.values()), 0)
    order = torch.randperm(n, generator=generator) if shuffle else None
    return _iter_batches(tensors, batch_size, n, order, trim_padding)


def _iter_batches(tensors: Mapping[str, torch.Tensor], batch_size: int, n: int,
                  order: torch.Tensor | None, trim: bool) -> Iterator[dict[str, torch.Tensor]]:
    for start in range(0, n, batch_size):
        if order is None:  # contiguous slices are views: no copy
            batch = {key: value[start:start + batch_size] for key, value in tensors.items()}
        else:
            rows = order[start:start + batch_size]
            batch = {key: value[rows] for key, value in tensors.items()}
        yield _trimmed(batch) if trim else batch


def _trimmed(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    mask = batch.get("attention_mask")
    if mask is None or mask.ndim != 2 or mask.shape[1] == 0:
        return batch
    # The last attended column + 1, not the longest row's mask sum, so that a left-padded
    # batch is left whole rather than cut into.
    attended = mask.any(dim=0).nonzero()
    length = int(attended[-1]) + 1 if len(attended) else 1
    return {key: value[:, :length] if key in SEQUENCE_KEYS else value
            for key, value in batch.items()}
