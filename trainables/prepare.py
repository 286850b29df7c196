"""What every trainable does before training: runtime, task, tokenizer, data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from trainables import report_keys as K
from trainables.artifacts import ArtifactStore
from trainables.config import TrainConfig
from trainables.data import TaskData, load_task_data
from trainables.models import load_tokenizer
from trainables.runtime import seed_everything, select_device, set_threads
from trainables.tasks import TaskSpec, get_task


@dataclass
class Prepared:
    device: torch.device
    task: TaskSpec
    tokenizer: Any
    data: TaskData
    store: ArtifactStore | None

    def identity(self, cfg: TrainConfig) -> dict[str, Any]:
        return {K.TASK: self.task.name, K.MODEL: cfg.model, K.SEED: cfg.seed}


def artifact_store(cfg: TrainConfig) -> ArtifactStore | None:
    return ArtifactStore.under_storage(cfg.storage_root) if cfg.storage_root else None


def prepare(cfg: TrainConfig) -> Prepared:
    """Threads, seed and device; then the tokenizer and the (cached) tokenised task data."""
    set_threads(cfg.num_threads)
    seed_everything(cfg.seed)
    device = select_device(cfg.device)
    task = get_task(cfg.task)
    tokenizer = load_tokenizer(cfg.model)
    store = artifact_store(cfg)
    data = load_task_data(
        task,
        tokenizer,
        data_dir=cfg.data_dir,
        synthetic=cfg.synthetic_data,
        max_seq_length=cfg.max_seq_length,
        max_train_examples=cfg.max_train_examples,
        max_eval_examples=cfg.max_eval_examples,
        subset_seed=cfg.subset_seed,
        cache=store,
    )
    return Prepared(device, task, tokenizer, data, store)
