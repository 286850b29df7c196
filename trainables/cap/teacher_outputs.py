"""What every trial of a sweep computes alike, computed once: teacher outputs and PrC.

Two shared artifacts under the storage root (:mod:`trainables.artifacts`), each a folder
of ``.npy`` files that trials memory-map (:mod:`trainables.array_files`), so concurrent
trials on one node share the pages and a later trial starts without encoding anything:

- ``cap_teacher_outputs``: one eval-mode pass of the teacher over the training subset: its
  logits ``[N, num_labels]`` (float32; the values the bf16 forward gave, when ``bf16``) for
  distillation, and its FiC bank rows ``[N, d]`` in the trial's representation and
  ``bank_dtype``. The original evaluates the teacher in eval mode at every step, so
  reading the batch's rows (by ``idx``) gives the same targets: equal up to the rounding
  of a different batch shape (tests/trainables/cap/test_cap_teacher_outputs.py).
- ``cap_pretrained_bank``: the PrC rows of the untrained, masked student (eval mode, the
  initial threshold). Keyed by a hash of the student's encoder weights and mask scores, so
  anything that changes them (model, seed of a freshly initialised pooler, ``mask_init``)
  changes the key; no setting is trusted to imply them.

Keys hold everything the rows depend on: the teacher's identity (its artifact key and build
time, or the ``teacher_path`` files), the task and its tokenised data (fingerprint, rows,
``max_seq_length``), the representation, ``bank_dtype``, bf16 and the device type. The SnC
bank stays per trial (it is the trial's own student). ``teacher_cache=false`` /
``prc_cache=false`` restore the per-trial computation, for comparison.

Example:
    >>> outputs = shared_teacher_outputs(cfg, prep, hidden)                # doctest: +SKIP
    >>> outputs.logits_for(batch, device)          # [B, num_labels], rows batch["idx"]
    >>> banks.encode_initial(student, None, finetuned=outputs.bank,
    ...                      pretrained=shared_pretrained_bank(cfg, prep, student))
"""

from __future__ import annotations

import hashlib
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from trainables.array_files import check_arrays, map_arrays, write_arrays
from trainables.artifacts import store_or_temporary
from trainables.cap.banks import MemoryBank
from trainables.cap.config import CapConfig
from trainables.cap.representations import check_representation, mean_pool, model_inputs
from trainables.cap.teacher import checked_teacher_folder, load_teacher_from, log
from trainables.encoding import batches
from trainables.prepare import Prepared
from trainables.runtime import autocast

TEACHER_OUTPUTS_KIND = "cap_teacher_outputs"
PRETRAINED_BANK_KIND = "cap_pretrained_bank"
VERSION = 1  # bump when what these artifacts hold changes meaning
ENCODE_BATCH = 64  # fixed, so that the trial's batch size is no part of the keys
_DTYPES = {"float32": torch.float32, "float16": torch.float16}


class CachedTeacher:
    """The teacher's logits of every training row, read by ``idx`` instead of a forward.

    Args:
        logits: ``[N, num_labels]`` float32, row ``k`` = dataset row ``k`` (memory-mapped).
        bank: the FiC bank of the same pass.
        seconds: time to get them (a build, or only checks and memory maps).
        built: whether this process built them.
    """

    def __init__(self, logits: torch.Tensor, bank: MemoryBank, seconds: float,
                 built: bool) -> None:
        self.logits, self.bank, self.seconds, self.built = logits, bank, seconds, built

    def logits_for(self, batch: Mapping[str, torch.Tensor], device: torch.device
                   ) -> torch.Tensor:
        """The teacher logits of the batch's rows, ``[B, num_labels]`` on ``device``."""
        if "idx" not in batch:
            raise KeyError("cached teacher logits need the batch's dataset rows (`idx`); "
                           f"the batch has {sorted(batch)}")
        return self.logits[batch["idx"].cpu()].to(device)


def teacher_logits(teacher: nn.Module | CachedTeacher, batch: Mapping[str, torch.Tensor],
                   device: torch.device) -> torch.Tensor:
    """The KD targets of a batch: read from the cache, or a no-grad forward of the teacher."""
    if isinstance(teacher, CachedTeacher):
        return teacher.logits_for(batch, device)
    with torch.no_grad():
        return teacher(**model_inputs(batch, device)).logits


# -- keys --------------------------------------------------------------------------------


def data_identity(cfg: CapConfig, prep: Prepared) -> dict[str, Any]:
    """What the rows of a bank depend on besides the encoder: data, representation, precision."""
    return {"version": VERSION, "task": prep.task.name, "data": prep.data.fingerprint,
            "rows": len(prep.data.train["idx"]), "max_seq_length": cfg.max_seq_length,
            "representation": cfg.alignrep, "bank_dtype": cfg.bank_dtype, "bf16": cfg.bf16,
            "device": prep.device.type}


def teacher_outputs_inputs(cfg: CapConfig, prep: Prepared, teacher: Mapping[str, Any]
                           ) -> dict[str, Any]:
    """The ``cap_teacher_outputs`` key's inputs for the teacher identified by ``teacher``."""
    return {**data_identity(cfg, prep), "teacher": dict(teacher)}


def encoder_fingerprint(model: nn.Module) -> str:
    """SHA-256 (16 hex digits) of the encoder's state: weights, mask scores, buffers."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.bert.state_dict().items()):
        tensor = tensor.detach().cpu().contiguous()
        digest.update(f"{name}:{tensor.dtype}:{list(tensor.shape)}".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().data)
    return digest.hexdigest()[:16]


def pretrained_bank_inputs(cfg: CapConfig, prep: Prepared, student: nn.Module,
                           threshold: float) -> dict[str, Any]:
    """The ``cap_pretrained_bank`` key's inputs: the untrained student as it encodes."""
    return {**data_identity(cfg, prep), "encoder": encoder_fingerprint(student),
            "pruning_method": cfg.pruning_method, "threshold": threshold}


# -- one pass ----------------------------------------------------------------------------


def teacher_pass(model: nn.Module, batch: Mapping[str, torch.Tensor], mode: str
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(logits, bank vectors)`` of one batch from one forward, as the two separate calls
    (``model(**inputs).logits`` and :func:`~trainables.cap.representations.encode_batch`)
    compute them: the classifier reads dropout(pooler) (identity in eval mode); the bank
    vector is the L2-normalised pooler output or masked mean."""
    inputs = model_inputs(batch, next(model.parameters()).device)
    outputs = model.bert(**inputs, return_dict=True)
    logits = model.classifier(model.dropout(outputs.pooler_output))
    if mode == "cls":
        vectors = outputs.pooler_output
    else:
        vectors = mean_pool(outputs.last_hidden_state, inputs["attention_mask"])
    return logits, F.normalize(vectors, p=2, dim=-1)


def _labels(train: Mapping[str, torch.Tensor]) -> np.ndarray:
    return train["labels"].cpu().numpy()


def compute_teacher_outputs(model: nn.Module, train: Mapping[str, torch.Tensor], mode: str,
                            dtype: torch.dtype, device: torch.device, bf16: bool
                            ) -> dict[str, np.ndarray]:
    """Logits (float32) and bank rows (``dtype``) of every training row, eval mode, no grad."""
    check_representation(mode)
    rows = len(train["idx"])
    logits = vectors = None
    seen = torch.zeros(rows, dtype=torch.bool)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), autocast(device, bf16):
            for batch in batches(train, ENCODE_BATCH, shuffle=False, trim_padding=True):
                idx = batch["idx"].cpu()
                batch_logits, batch_vectors = teacher_pass(model, batch, mode)
                if logits is None:
                    logits = torch.empty(rows, batch_logits.size(-1), dtype=torch.float32)
                    vectors = torch.empty(rows, batch_vectors.size(-1), dtype=dtype)
                logits[idx] = batch_logits.float().cpu()
                vectors[idx] = batch_vectors.to("cpu", dtype)
                seen[idx] = True
    finally:
        model.train(was_training)
    if not bool(seen.all()):
        raise ValueError(f"the teacher pass covered {int(seen.sum())} of {rows} rows")
    return {"logits": logits.numpy(), "vectors": vectors.numpy(), "labels": _labels(train)}


def compute_pretrained_rows(student: nn.Module, train: Mapping[str, torch.Tensor], mode: str,
                            dtype: torch.dtype, device: torch.device, bf16: bool
                            ) -> dict[str, np.ndarray]:
    """PrC rows of the untrained student, eval mode (as :meth:`TrialBanks.encode_initial`)."""
    bank = MemoryBank(len(train["idx"]), student.config.hidden_size, dtype=dtype)
    with autocast(device, bf16):
        bank.encode(student, batches(train, ENCODE_BATCH, shuffle=False, trim_padding=True),
                    mode, train_mode=False)
    return {"vectors": bank.vectors[:, 0].numpy(), "labels": bank.labels.numpy()}


# -- reading -----------------------------------------------------------------------------


def _tensor(array: np.ndarray) -> torch.Tensor:
    with warnings.catch_warnings():  # copy-on-write maps are writable; keep torch quiet
        warnings.simplefilter("ignore")
        return torch.from_numpy(array)


def mapped_bank(folder: Path, arrays: Mapping[str, np.ndarray] | None = None) -> MemoryBank:
    """A one-column bank whose rows are the memory-mapped ``vectors.npy`` of ``folder``."""
    arrays = map_arrays(folder) if arrays is None else arrays
    return MemoryBank.mapped(_tensor(arrays["vectors"]), _tensor(arrays["labels"]))


def _check_rows(folder: Path, arrays: Mapping[str, np.ndarray], rows: int, hidden: int
                ) -> None:
    if arrays["vectors"].shape != (rows, hidden):
        raise ValueError(f"{folder} holds rows of shape {arrays['vectors'].shape}, the trial "
                         f"needs ({rows}, {hidden})")


def shared_teacher_outputs(cfg: CapConfig, prep: Prepared, student_hidden: int
                           ) -> CachedTeacher:
    """The teacher's logits and FiC rows of the training subset, built once per key.

    Raises:
        TeacherMismatchError: the teacher does not fit the trial (checked on every call).
    """
    start = time.perf_counter()
    built = []
    with store_or_temporary(prep.store, "cap-teacher-outputs-") as store:
        folder, identity = checked_teacher_folder(cfg, prep, store, student_hidden)

        def build(out: Path) -> None:
            log(f"teacher outputs: one pass of the teacher over {len(prep.data.train['idx'])} "
                f"rows ({cfg.alignrep}, {cfg.bank_dtype})")
            teacher = load_teacher_from(cfg, prep, folder)
            write_arrays(out, compute_teacher_outputs(
                teacher, prep.data.train, cfg.alignrep, _DTYPES[cfg.bank_dtype], prep.device,
                cfg.bf16))
            built.append(True)

        path = store.get_or_build(
            TEACHER_OUTPUTS_KIND, teacher_outputs_inputs(cfg, prep, identity), build,
            validate=check_arrays,
            on_wait=lambda holder: log(f"waiting for the teacher outputs built by {holder}"))
        arrays = map_arrays(path)
    if cfg.use_contrastive:  # else the FiC rows go unused: the teacher's width is free
        _check_rows(path, arrays, len(prep.data.train["idx"]), student_hidden)
    return CachedTeacher(_tensor(arrays["logits"]), mapped_bank(path, arrays),
                         time.perf_counter() - start, bool(built))


def shared_pretrained_bank(cfg: CapConfig, prep: Prepared, student: nn.Module,
                           threshold: float) -> tuple[MemoryBank, float, bool]:
    """The PrC bank of the untrained ``student`` (at ``threshold``), built once per key.

    Returns:
        ``(bank, seconds, built)``: the memory-mapped bank, the time to get it, whether this
        process built it.
    """
    start = time.perf_counter()
    built = []
    with store_or_temporary(prep.store, "cap-pretrained-bank-") as store:

        def build(out: Path) -> None:
            log(f"PrC bank: encoding {len(prep.data.train['idx'])} rows with the untrained "
                "student")
            write_arrays(out, compute_pretrained_rows(
                student, prep.data.train, cfg.alignrep, _DTYPES[cfg.bank_dtype], prep.device,
                cfg.bf16))
            built.append(True)

        path = store.get_or_build(
            PRETRAINED_BANK_KIND, pretrained_bank_inputs(cfg, prep, student, threshold),
            build, validate=check_arrays,
            on_wait=lambda holder: log(f"waiting for the PrC bank built by {holder}"))
        arrays = map_arrays(path)
    _check_rows(path, arrays, len(prep.data.train["idx"]), student.config.hidden_size)
    return mapped_bank(path, arrays), time.perf_counter() - start, bool(built)


__all__ = ["ENCODE_BATCH", "PRETRAINED_BANK_KIND", "TEACHER_OUTPUTS_KIND", "CachedTeacher",
           "compute_pretrained_rows", "compute_teacher_outputs", "data_identity",
           "encoder_fingerprint", "mapped_bank", "pretrained_bank_inputs",
           "shared_pretrained_bank", "shared_teacher_outputs", "teacher_logits",
           "teacher_outputs_inputs", "teacher_pass"]
