"""GLUE data for the trainables: load a split, subset it, tokenise it once, batch it.

``load_split`` reads one split from generated toy data, a data folder (Hugging Face Parquet
or GLUE_DATA TSV, see :mod:`trainables.glue_sources`) or the hub. ``load_task_data`` loads
train and every evaluation split, tokenises them and, given an
:class:`~trainables.artifacts.ArtifactStore`, keeps the tensors as a shared ``tokenized``
artifact so that only the first trial of a sweep pays for tokenisation.

Every encoded split carries an ``idx`` column equal to its row index: CAP's memory banks rely
on bank row ``k`` being dataset row ``k``.

Example:
    >>> from trainables.models import load_tokenizer
    >>> from trainables.tasks import get_task
    >>> data = load_task_data(get_task("sst2"), load_tokenizer("tiny"), data_dir=None,
    ...                       synthetic=True, max_seq_length=32)
    >>> sorted(data.train), list(data.evals)
    (['attention_mask', 'idx', 'input_ids', 'labels', 'token_type_ids'], ['validation'])
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import numpy as np

from trainables import toy
from trainables.artifacts import ArtifactStore
from trainables.artifacts import artifact_key
from trainables.encoding import batches
from trainables.encoding import encode
from trainables.encoding import tokenizer_fingerprint
from trainables.glue_sources import DataFormatError
from trainables.glue_sources import DataNotFoundError
from trainables.glue_sources import Examples
from trainables.glue_sources import check_split
from trainables.glue_sources import find_split
from trainables.glue_sources import make_labels
from trainables.glue_sources import read_hub
from trainables.glue_sources import read_split
from trainables.tasks import TaskSpec

if TYPE_CHECKING:
    import torch

__all__ = [
    "DataFormatError", "DataNotFoundError", "Examples", "TaskData", "batches", "encode",
    "examples_fingerprint", "load_split", "load_task_data", "subset", "tokenizer_fingerprint",
]

SYNTHETIC_TRAIN_SIZE = 2000
SYNTHETIC_EVAL_SIZE = 500
ARTIFACT_KIND = "tokenized"
# Bump when the stored tensors change meaning, so that old artifacts are not reused.
ENCODING_VERSION = 1


# -- examples -------------------------------------------------------------------------------


def load_split(
    task: TaskSpec,
    split: str,
    *,
    data_dir: str | Path | None,
    synthetic: bool = False,
    synthetic_size: int | None = None,
) -> Examples:
    """One split of ``task`` as :class:`Examples`.

    Args:
        task: the task; toy tasks are always generated.
        split: a Hugging Face split name (``train``, ``validation``, ``validation_matched``,
            ``validation_mismatched``).
        data_dir: a folder in the Parquet or TSV layout (auto-detected); None reads
            ``nyu-mll/glue`` from the hub. Ignored for synthetic data.
        synthetic: generate toy examples shaped like the task instead of reading data.
        synthetic_size: rows to generate (default 2000 for train, 500 for an eval split).

    Raises:
        DataNotFoundError: ``data_dir`` or the split in it does not exist.
        trainables.hub.HubUnavailableError: ``data_dir`` is None and the hub is unusable.

    Example:
        >>> from trainables.tasks import get_task
        >>> len(load_split(get_task("mrpc"), "train", data_dir=None, synthetic=True,
        ...                synthetic_size=8))
        8
    """
    check_split(task, split)
    if synthetic or task.is_toy:
        return _synthetic(task, split, synthetic_size)
    if data_dir is None:
        return read_hub(task, split)
    layout, files = find_split(task, split, data_dir)
    return read_split(task, layout, files)


def _synthetic(task: TaskSpec, split: str, size: int | None) -> Examples:
    if size is None:
        size = SYNTHETIC_TRAIN_SIZE if split == "train" else SYNTHETIC_EVAL_SIZE
    if size < 1:
        raise ValueError(f"`synthetic_size` must be >= 1, but got {size=}.")
    # A stable seed per split name, so train and each eval split are independent draws.
    seed = zlib.crc32(split.encode())
    generated = toy.generate(pair=task.is_pair, num_labels=task.num_labels, n=size, seed=seed)
    return Examples(list(generated.text_a),
                    None if generated.text_b is None else list(generated.text_b),
                    make_labels(task, generated.labels))


def subset(examples: Examples, max_examples: int | None, seed: int) -> Examples:
    """A deterministic random sample of ``max_examples`` rows, kept in their original order.

    None, or a size at least ``len(examples)``, returns ``examples`` unchanged.

    Example:
        >>> ex = Examples(list("abcdef"), None, np.arange(6))
        >>> subset(ex, 3, seed=0).text_a == subset(ex, 3, seed=0).text_a
        True
    """
    if max_examples is None or max_examples >= len(examples):
        return examples
    if max_examples < 1:
        raise ValueError(f"`max_examples` must be >= 1 or None, but got {max_examples=}.")
    rows = np.sort(np.random.default_rng(seed).choice(len(examples), max_examples, replace=False))
    pick = rows.tolist()
    return Examples([examples.text_a[i] for i in pick],
                    None if examples.text_b is None else [examples.text_b[i] for i in pick],
                    examples.labels[rows])


def examples_fingerprint(examples: Examples) -> str:
    """A content hash of the texts and labels (order matters)."""
    digest = hashlib.sha256()
    digest.update(json.dumps([examples.text_a, examples.text_b], ensure_ascii=False).encode())
    digest.update(str(examples.labels.dtype).encode())
    digest.update(np.ascontiguousarray(examples.labels).tobytes())
    return digest.hexdigest()[:16]


# -- a task's tensors -----------------------------------------------------------------------


@dataclass
class TaskData:
    """The encoded splits of one task.

    ``evals`` is keyed by eval split name in ``task.eval_splits`` order; ``fingerprint``
    identifies data, tokenizer and settings (use it in the keys of derived artifacts).
    """

    task: TaskSpec
    train: dict[str, torch.Tensor]
    evals: dict[str, dict[str, torch.Tensor]]
    fingerprint: str


def load_task_data(
    task: TaskSpec,
    tokenizer: Any,
    *,
    data_dir: str | Path | None,
    synthetic: bool,
    max_seq_length: int,
    max_train_examples: int | None = None,
    max_eval_examples: int | None = None,
    subset_seed: int = 0,
    cache: ArtifactStore | None = None,
) -> TaskData:
    """Load, subset and tokenise train and every eval split of ``task``.

    Synthetic data is generated at the requested size (``max_*_examples``, else the
    defaults of :func:`load_split`) rather than generated large and subsampled. With
    ``cache``, the tensors are built once per fingerprint as the ``tokenized`` artifact and
    read back by every later call; only reading and hashing the examples remains.

    Example:
        >>> from trainables.models import load_tokenizer
        >>> from trainables.tasks import get_task
        >>> data = load_task_data(get_task("mnli"), load_tokenizer("tiny"), data_dir=None,
        ...                       synthetic=True, max_seq_length=16, max_train_examples=4)
        >>> len(data.train["idx"]), list(data.evals)
        (4, ['validation_matched', 'validation_mismatched'])
    """
    limits = {"train": max_train_examples, **{s: max_eval_examples for s in task.eval_splits}}
    examples = {}
    for split, limit in limits.items():
        size = limit if synthetic or task.is_toy else None
        loaded = load_split(task, split, data_dir=data_dir, synthetic=synthetic,
                            synthetic_size=size)
        examples[split] = subset(loaded, limit, subset_seed)
    inputs = {
        "version": ENCODING_VERSION,
        "task": task.name,
        "data": {split: examples_fingerprint(ex) for split, ex in examples.items()},
        "rows": {split: len(ex) for split, ex in examples.items()},
        "tokenizer": tokenizer_fingerprint(tokenizer),
        "max_seq_length": max_seq_length,
        "subset": {"max_train": max_train_examples, "max_eval": max_eval_examples,
                   "seed": subset_seed},
    }
    if cache is None:
        tensors = {split: encode(ex, tokenizer, max_seq_length) for split, ex in examples.items()}
    else:
        # A truncated tensor file (a full disk, a killed copy) is rebuilt under the lock,
        # as CAP's array artifacts are, instead of failing in every trial that reads it.
        folder = cache.get_or_build(
            ARTIFACT_KIND, inputs, lambda tmp: _save_encoded(tmp, examples, tokenizer,
                                                             max_seq_length),
            validate=lambda folder: _encoded_problem(folder, list(examples)))
        tensors = _load_encoded(folder, list(examples))
    train = tensors.pop("train")
    return TaskData(task, train, tensors, artifact_key(inputs))


def _save_encoded(folder: Path, examples: Mapping[str, Examples], tokenizer: Any,
                  max_length: int) -> None:
    from safetensors.torch import save_file

    for split, ex in examples.items():
        save_file(encode(ex, tokenizer, max_length), str(folder / f"{split}.safetensors"))


def _encoded_problem(folder: Path, splits: list[str]) -> str | None:
    from trainables.array_files import safetensors_problem

    for split in splits:
        problem = safetensors_problem(folder / f"{split}.safetensors")
        if problem is not None:
            return problem
    return None


def _load_encoded(folder: Path, splits: list[str]) -> dict[str, dict[str, torch.Tensor]]:
    from safetensors.torch import load_file

    return {split: load_file(str(folder / f"{split}.safetensors")) for split in splits}
