"""Memory banks of sentence vectors indexed by training-set row (methods.md 2.6).

A bank is a CPU tensor ``[N, r, d]``: row ``k`` holds the ``r`` stored vectors of dataset row
``k``. The pretrained (PrC) and finetuned (FiC) banks are encoded once (``r = 1``); the
snapshot (SnC) bank gets one more column at the start of every epoch after the first and
never drops one. ``labels`` holds the labels in dataset order, refreshed by every encoding.

Example:
    >>> bank = MemoryBank(num_examples=4, dim=3, capacity=2)
    >>> bank.append(torch.eye(4, 3))     # ``encode(model, batches, "cls")`` fills a column so
    >>> bank.vectors.shape, bank.depth
    (torch.Size([4, 1, 3]), 1)
"""

from __future__ import annotations

from collections.abc import Iterable
from collections.abc import Mapping

import torch
from torch import nn

from trainables.cap.representations import check_representation
from trainables.cap.representations import encode_batch

_BANK_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


class MemoryBank:
    """Host-memory store of ``r`` L2-normalised vectors per training example.

    Args:
        num_examples: ``N``, the training-set size (rows are dataset row indices).
        dim: ``d``, the representation size (the model's hidden size).
        dtype: storage type; ``torch.float16`` halves host memory (methods.md 6).
        capacity: columns to reserve up front. Appending beyond it copies the whole bank, so
            give the snapshot bank ``epochs - 1``; pages never written stay unallocated.
    """

    def __init__(
        self, num_examples: int, dim: int, *, dtype: torch.dtype = torch.float32, capacity: int = 1
    ) -> None:
        if num_examples < 1 or dim < 1:
            raise ValueError(
                f"a bank needs num_examples >= 1 and dim >= 1, got {num_examples=}, {dim=}"
            )
        if dtype not in _BANK_DTYPES:
            raise ValueError(f"bank `dtype` must be one of {_BANK_DTYPES}, but got {dtype=}")
        if capacity < 1:
            raise ValueError(f"`capacity` must be >= 1, but got {capacity=}")
        self._storage = torch.empty(num_examples, capacity, dim, dtype=dtype)
        self._depth = 0
        self.labels: torch.Tensor | None = None

    @classmethod
    def mapped(cls, vectors: torch.Tensor, labels: torch.Tensor | None) -> MemoryBank:
        """A one-column bank over ``vectors`` ``[N, d]`` without a copy (e.g. a memory map of
        a shared artifact, :mod:`trainables.cap.teacher_outputs`); not for appending."""
        if vectors.dim() != 2 or vectors.dtype not in _BANK_DTYPES:
            raise ValueError(f"mapped vectors must be [N, d] of {_BANK_DTYPES}, got "
                             f"{vectors.dtype}{list(vectors.shape)}")
        bank = cls.__new__(cls)
        bank._storage = vectors.unsqueeze(1)
        bank._depth = 1
        bank.labels = labels
        bank.shared = True
        return bank

    shared = False  # True for a bank over a shared artifact's file (its pages are shared)

    @property
    def num_examples(self) -> int:
        return self._storage.size(0)

    @property
    def dim(self) -> int:
        return self._storage.size(2)

    @property
    def depth(self) -> int:
        """``r``: how many vectors each row holds (0 for a snapshot bank in epoch 0)."""
        return self._depth

    @property
    def vectors(self) -> torch.Tensor:
        """The stored vectors, ``[N, r, d]`` (a view; do not write to it)."""
        return self._storage[:, : self._depth]

    @property
    def nbytes(self) -> int:
        """Host bytes reserved by the vectors (all ``capacity`` columns) and the labels."""
        labels = 0 if self.labels is None else self.labels.numel() * self.labels.element_size()
        return self._storage.numel() * self._storage.element_size() + labels

    def append(self, vectors: torch.Tensor, labels: torch.Tensor | None = None) -> None:
        """Add one column ``[N, d]`` of vectors (and refresh the labels, if given)."""
        expected = (self.num_examples, self.dim)
        if tuple(vectors.shape) != expected:
            raise ValueError(
                f"appended vectors must have shape {expected}, got {tuple(vectors.shape)}"
            )
        self._next_column().copy_(vectors)
        self._depth += 1
        if labels is not None:
            self.labels = labels.detach().cpu()

    def encode(
        self,
        model: nn.Module,
        batches: Iterable[Mapping[str, torch.Tensor]],
        mode: str = "cls",
        train_mode: bool = False,
    ) -> None:
        """Encode the whole training set into a new column; row ``k`` = dataset row ``k``.

        A sequential no-grad pass; each batch's vectors land in the rows named by its ``idx``,
        so the batch order does not matter, but every row must be covered exactly once.

        Args:
            model: a ``BertForSequenceClassification`` (student or teacher).
            batches: batch dicts with ``input_ids``, ``attention_mask``, ``labels`` and ``idx``.
            mode: ``"cls"`` or ``"mean-pooling"`` (methods.md 2.8).
            train_mode: encode with dropout active. The original encodes the snapshots this way
                (pitfall 14); PrC and FiC use ``False``. The model's mode is restored after.
        """
        check_representation(mode)
        column = self._next_column()
        labels, seen = self._encode_into(column, model, batches, mode, train_mode)
        missing = int((~seen).sum())
        if missing:
            raise ValueError(
                f"encoding covered {self.num_examples - missing} of {self.num_examples} rows; "
                "pass every training example once (no drop_last, no subset)"
            )
        self._depth += 1
        self.labels = labels

    def _next_column(self) -> torch.Tensor:
        if self._depth == self._storage.size(1):  # full: grow by one column (copies the bank)
            extra = torch.empty(self.num_examples, 1, self.dim, dtype=self._storage.dtype)
            self._storage = torch.cat([self._storage, extra], dim=1)
        return self._storage[:, self._depth]

    def _encode_into(
        self, column: torch.Tensor, model: nn.Module, batches, mode: str, train_mode: bool
    ) -> tuple[torch.Tensor | None, torch.Tensor]:
        seen = torch.zeros(self.num_examples, dtype=torch.bool)
        labels = None
        was_training = model.training
        model.train(train_mode)
        try:
            with torch.no_grad():
                for batch in batches:
                    idx = batch["idx"].cpu()
                    column[idx] = encode_batch(model, batch, mode).to("cpu", column.dtype)
                    if "labels" in batch:
                        if labels is None:
                            labels = torch.zeros(self.num_examples, dtype=batch["labels"].dtype)
                        labels[idx] = batch["labels"].cpu()
                    seen[idx] = True
        finally:
            model.train(was_training)
        return labels, seen
