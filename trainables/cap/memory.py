"""The three memory banks of a CAP trial and their contrastive terms (methods.md 2.6, 2.7).

- PrC (pre-trained): the student before any update, eval mode, initial threshold; one column.
- FiC (fine-tuned): the teacher, eval mode, before training; one column.
- SnC (snapshots): the student at the start of every epoch after the first, one more column
  each time; in train mode (dropout on) as the original unless ``snapshot_eval_mode``.

PrC and FiC are pure functions of the trial's config (the freshly loaded student, the
teacher), so a resumed trial re-encodes them; SnC is not, so checkpoints carry it.

Example:
    >>> banks = TrialBanks(cfg, prep.data, hidden=384, epochs=10)       # doctest: +SKIP
    >>> banks.encode_initial(student, teacher)                          # doctest: +SKIP
    >>> loss = banks.loss(anchor, batch, generator)                     # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import torch
from torch import nn

from trainables.cap.banks import MemoryBank
from trainables.cap.config import CapConfig
from trainables.cap.contrastive import cap_contrastive
from trainables.data import TaskData, batches
from trainables.runtime import autocast

SNAPSHOT_FILE = "cap_snapshots.safetensors"
_DTYPES = {"float32": torch.float32, "float16": torch.float16}


class TrialBanks:
    """PrC, FiC and SnC for one trial, with their share of the training loss.

    Args:
        cfg: the trial's config (temperature, weights, extra examples, dtype, modes).
        data: the task data; banks cover ``data.train`` row by row.
        hidden: the representation size (the student's hidden size).
        epochs: epochs of the run; the snapshot bank reserves ``epochs - 1`` columns.
        device: where the encoding runs (bf16 autocast there when ``cfg.bf16``).
    """

    def __init__(self, cfg: CapConfig, data: TaskData, hidden: int, epochs: int,
                 device: torch.device) -> None:
        self.cfg = cfg
        self.data = data
        self.device = device
        self.supervised = not data.task.is_regression  # STS-B: no supervised term
        n, dtype = len(data.train["idx"]), _DTYPES[cfg.bank_dtype]
        self.pretrained = MemoryBank(n, hidden, dtype=dtype)
        self.finetuned = MemoryBank(n, hidden, dtype=dtype)
        self.snapshots = MemoryBank(n, hidden, dtype=dtype, capacity=max(1, epochs - 1))
        self.encode_seconds: list[float] = []  # one entry per encoding pass (benchmarks)
        self.shared_seconds = 0.0  # getting the shared PrC/FiC artifacts (build or map)

    def _batches(self) -> Iterator[dict[str, torch.Tensor]]:
        # Sequential, at the training batch size, as the original's encoding loop.
        return batches(self.data.train, self.cfg.train_batch_size, shuffle=False,
                       trim_padding=self.cfg.trim_padding)

    def _encode(self, bank: MemoryBank, model: nn.Module, train_mode: bool) -> None:
        start = time.perf_counter()
        with autocast(self.device, self.cfg.bf16):
            bank.encode(model, self._batches(), self.cfg.alignrep, train_mode=train_mode)
        self.encode_seconds.append(time.perf_counter() - start)

    def encode_initial(self, student: nn.Module, teacher: nn.Module | None, *,
                       pretrained: MemoryBank | None = None,
                       finetuned: MemoryBank | None = None) -> None:
        """FiC from the teacher and PrC from the untrained student, both in eval mode.

        A given ``pretrained`` / ``finetuned`` bank (the shared, memory-mapped artifacts of
        :mod:`trainables.cap.teacher_outputs`) is used as it is instead of encoding.
        """
        for name, given in (("pretrained", pretrained), ("finetuned", finetuned)):
            if given is not None and (given.num_examples, given.dim) != (
                    self.pretrained.num_examples, self.pretrained.dim):
                raise ValueError(f"the shared {name} bank has {given.num_examples} x "
                                 f"{given.dim} rows, the trial needs "
                                 f"{self.pretrained.num_examples} x {self.pretrained.dim}")
        if finetuned is not None:
            self.finetuned = finetuned
        else:
            if teacher is None:
                raise ValueError("encoding FiC needs the teacher (or a shared FiC bank)")
            self._encode(self.finetuned, teacher, train_mode=False)
        if pretrained is not None:
            self.pretrained = pretrained
        else:
            self._encode(self.pretrained, student, train_mode=False)

    def snapshot(self, student: nn.Module) -> None:
        """Append the student's current vectors to SnC (the start of epochs 1, 2, ...)."""
        self._encode(self.snapshots, student, train_mode=not self.cfg.snapshot_eval_mode)

    @property
    def nbytes(self) -> int:
        """Host memory the three banks reserve (vectors and labels)."""
        return self.pretrained.nbytes + self.finetuned.nbytes + self.snapshots.nbytes

    @property
    def shared_nbytes(self) -> int:
        """The part of :attr:`nbytes` in shared files (page cache, one copy per node)."""
        return sum(bank.nbytes for bank in (self.pretrained, self.finetuned) if bank.shared)

    def describe(self) -> str:
        shared = self.shared_nbytes
        note = f", {shared / 2**20:.1f} MiB of it in shared files" if shared else ""
        return (f"banks {self.nbytes / 2**20:.1f} MiB host memory ({self.cfg.bank_dtype}"
                f"{note}): PrC {self.pretrained.depth}, FiC {self.finetuned.depth}, "
                f"SnC {self.snapshots.depth} columns of {self.pretrained.num_examples} rows")

    def loss(self, anchor: torch.Tensor, batch: Mapping[str, torch.Tensor],
             generator: torch.Generator) -> torch.Tensor:
        """The contrastive terms against every bank (an empty SnC adds 0)."""
        cfg, total = self.cfg, anchor.new_zeros(())
        for bank in (self.pretrained, self.finetuned, self.snapshots):
            total = total + cap_contrastive(
                anchor, batch["idx"], batch["labels"], bank.vectors, bank.labels,
                tau=cfg.contrastive_temperature, extra_examples=cfg.extra_examples,
                w_u=cfg.cl_unsupervised_loss_weight, w_s=cfg.cl_supervised_loss_weight,
                generator=generator, supervised=self.supervised)
        return total

    def save_snapshots(self, directory: Path) -> None:
        """Write SnC into a checkpoint folder (nothing while it is empty)."""
        from safetensors.torch import save_file

        if self.snapshots.depth == 0:
            return
        save_file({"vectors": self.snapshots.vectors.contiguous(),
                   "labels": self.snapshots.labels.contiguous()},
                  str(directory / SNAPSHOT_FILE))

    def load_snapshots(self, directory: Path) -> None:
        """Restore SnC from a checkpoint folder written by :meth:`save_snapshots`."""
        from safetensors.torch import load_file

        path = directory / SNAPSHOT_FILE
        if not path.is_file():
            return
        stored = load_file(str(path))
        for column in range(stored["vectors"].size(1)):
            self.snapshots.append(stored["vectors"][:, column], stored["labels"])
