"""SMP's shared artifacts: the meta-trained pruner and each task's head scores.

- ``smp_pruner``: the CNN after meta-training, keyed by the base model, the meta-training
  settings and each meta task's data fingerprint and size. Built once per storage root under
  the store's lock; meta-training runs in a stable work folder beside it, so a builder that
  died resumes from its last checkpoint instead of starting over.
- ``smp_scores``: the ``[L, H]`` scores of one task's training set (the ``cal`` pass), keyed
  by the pruner (its artifact key, or the hash of a released checkpoint), the task data and
  the scoring settings. Every trial of a sweep reuses them and only applies its own ratio.

Example:
    >>> scores = head_scores(cfg, tokenizer, store, device)     # doctest: +SKIP
    >>> keep = keep_mask(cfg, scores)                            # [L, H] bool
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from trainables.artifacts import ArtifactStore
from trainables.artifacts import artifact_key
from trainables.data import TaskData
from trainables.data import load_task_data
from trainables.heartbeat import tagged
from trainables.model_source import resolve_model
from trainables.models import load_classifier
from trainables.smp.config import META_TRAIN
from trainables.smp.config import SmpConfig
from trainables.smp.masks import compute_head_scores
from trainables.smp.masks import head_mask_global
from trainables.smp.masks import head_mask_per_layer
from trainables.smp.meta_config import MetaTrainConfig
from trainables.smp.meta_training import meta_train
from trainables.smp.pruner import DEFAULT_NDF
from trainables.smp.pruner import SAFETENSORS_NAME
from trainables.smp.pruner import PrunerCheckpointError
from trainables.smp.pruner import load_pruner_checkpoint
from trainables.smp.released import released_checkpoint
from trainables.tasks import get_task

__all__ = ["PRUNER_KIND", "SCORES_KIND", "check_ratio_fits", "head_scores", "keep_mask",
           "pruner_artifact", "released_pruner"]

PRUNER_KIND = "smp_pruner"
SCORES_KIND = "smp_scores"
VERSION = 1  # bump when the artifacts change meaning, so old ones are not reused
MAP_LENGTH = 128  # the pruner sees 128x128 maps: meta and scoring data are tokenised at 128
SCORE_CHUNK = 256  # batches per progress line of the scoring pass
SCORES_FILE = "scores.json"


log = tagged("smp")  # progress lines


def plm_identity(cfg: SmpConfig) -> dict[str, Any]:
    """What identifies the frozen base model the pruner looks at.

    A pre-trained model is its name. The in-memory ``tiny`` model is random and drawn from
    the trial's seed (the same weights the trial fine-tunes), so the seed is part of it.
    """
    identity: dict[str, Any] = {"model": cfg.model}
    if resolve_model(cfg.model).kind == "tiny":
        identity["init_seed"] = cfg.seed
    return identity


def load_plm(cfg: SmpConfig, num_labels: int, device: torch.device) -> nn.Module:
    """The frozen base model for meta-training and scoring: eager attention returns maps."""
    seed = plm_identity(cfg).get("init_seed", cfg.seed)
    plm = load_classifier(cfg.model, num_labels, attn_implementation="eager", seed=seed)
    return plm.to(device).eval()


def meta_train_config(cfg: SmpConfig) -> MetaTrainConfig:
    return MetaTrainConfig(**cfg.meta_train_settings(), ndf=DEFAULT_NDF)


def load_meta_tasks(cfg: SmpConfig, tokenizer: Any, store: ArtifactStore) -> dict[str, TaskData]:
    """The meta-training tasks' training sets at length 128 (tokenised once, cached)."""
    return {
        name: load_task_data(
            get_task(name), tokenizer, data_dir=cfg.meta_data_dir or cfg.data_dir,
            synthetic=cfg.synthetic_data, max_seq_length=MAP_LENGTH,
            max_train_examples=cfg.meta_max_examples_per_task, max_eval_examples=1,
            subset_seed=cfg.meta_seed, cache=store)
        for name in cfg.meta_task_names()
    }


def pruner_inputs(cfg: SmpConfig, meta_data: Mapping[str, TaskData]) -> dict[str, Any]:
    """The key of the ``smp_pruner`` artifact: everything that determines the CNN."""
    settings = dataclasses.asdict(meta_train_config(cfg))
    settings.pop("save_every")  # checkpoint spacing does not change the CNN
    if settings["pair_representation"] == "pooler":  # pruners built before the option keep
        settings.pop("pair_representation")          # their key
    tasks = {name: {"fingerprint": data.fingerprint, "rows": len(data.train["input_ids"]),
                    "pair": data.task.is_pair} for name, data in meta_data.items()}
    return {"version": VERSION, "plm": plm_identity(cfg), "meta": settings,
            "max_examples_per_task": cfg.meta_max_examples_per_task, "tasks": tasks}


def build_pruner(out: Path, work: Path, cfg: SmpConfig, meta_data: Mapping[str, TaskData],
                 device: torch.device) -> None:
    """Meta-train in ``work`` (resuming what is there) and publish the CNN into ``out``."""
    plm = load_plm(cfg, 2, device)  # the classifier head is never used by meta-training
    tasks = {name: (data.train, data.task.is_pair) for name, data in meta_data.items()}
    config = meta_train_config(cfg)
    every = max(1, config.updates // 20)

    def progress(step: int, loss: float, rate: float) -> None:
        if step % every == 0 or step == config.updates:
            log(f"meta-training update {step}/{config.updates}: loss {loss:.5f}, "
                f"{rate:.1f} examples/s")

    began = time.perf_counter()
    log(f"meta-training the pruner on {', '.join(tasks)} ({config.updates} updates of "
        f"{config.batch_size} x {config.accumulation} examples) in {work}")
    result = meta_train(plm, tasks, work, config, callback=progress)
    shutil.copy2(work / f"checkpoint-{result.step}" / SAFETENSORS_NAME, out / SAFETENSORS_NAME)
    summary = {"updates": result.step, "resumed_from": result.resumed_from,
               "examples_per_s": result.examples_per_s, "examples": result.examples,
               "skipped_partial": result.skipped_partial, "skipped_nan": result.skipped_nan,
               "losses": result.losses, "seconds": time.perf_counter() - began}
    (out / "meta.json").write_text(json.dumps(summary, indent=2))
    shutil.rmtree(work, ignore_errors=True)


def pruner_artifact(cfg: SmpConfig, tokenizer: Any, store: ArtifactStore,
                    device: torch.device) -> tuple[Path, str]:
    """``(folder with pruner.safetensors, artifact key)``, meta-training it if needed."""
    meta_data = load_meta_tasks(cfg, tokenizer, store)
    inputs = pruner_inputs(cfg, meta_data)
    key = artifact_key(inputs)
    work = store.root / PRUNER_KIND / f".work-{key}"
    folder = store.get_or_build(
        PRUNER_KIND, inputs, lambda out: build_pruner(out, work, cfg, meta_data, device),
        on_wait=lambda holder: log(f"waiting for pruner {key}, being built by {holder}"))
    return folder, key


def released_pruner(path: str) -> tuple[Path, str]:
    """A user-given checkpoint and the SHA-256 of its weights file."""
    resolved = Path(path).expanduser()
    weights = resolved / SAFETENSORS_NAME if resolved.is_dir() else resolved
    if not weights.is_file():
        raise PrunerCheckpointError(
            f"`pruner` {path!r}: no pruner checkpoint at {weights.resolve()} (a released "
            f"base.bin-format file or a checkpoint folder with {SAFETENSORS_NAME}; Ray runs "
            "trials in their own folders, so give an absolute path)")
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    return resolved, digest


def scoring_data(cfg: SmpConfig, tokenizer: Any, store: ArtifactStore,
                 trial_data: TaskData) -> TaskData:
    """The trial's training set tokenised at 128, as the original ``cal`` step reads it."""
    if cfg.max_seq_length == MAP_LENGTH:
        return trial_data
    return load_task_data(trial_data.task, tokenizer, data_dir=cfg.data_dir,
                          synthetic=cfg.synthetic_data, max_seq_length=MAP_LENGTH,
                          max_train_examples=cfg.max_train_examples, max_eval_examples=1,
                          subset_seed=cfg.subset_seed, cache=store)


def subsample(tensors: Mapping[str, torch.Tensor], limit: int | None) -> dict[str, torch.Tensor]:
    """A fixed random subset of ``limit`` rows in their original order (None: all rows)."""
    total = len(tensors["input_ids"])
    if limit is None or limit >= total:
        return dict(tensors)
    rows = torch.randperm(total, generator=torch.Generator().manual_seed(0))[:limit].sort()
    return {k: v[rows.values] for k, v in tensors.items()}


def chunked_scores(plm: nn.Module, cnn: nn.Module, tensors: Mapping[str, torch.Tensor],
                   pair: bool, batch_size: int) -> torch.Tensor:
    """:func:`compute_head_scores` over chunks of whole batches, with progress lines.

    Every chunk but the last holds a multiple of ``batch_size`` rows, so the mean of the
    chunks' batch means weighted by their batch counts is the mean over all batches.
    """
    total = len(tensors["input_ids"])
    chunk = SCORE_CHUNK * batch_size
    weighted, batches = torch.zeros(()), 0
    for start in range(0, total, chunk):
        part = {k: v[start:start + chunk] for k, v in tensors.items()}
        count = -(-len(part["input_ids"]) // batch_size)
        weighted = weighted + compute_head_scores(plm, cnn, part, pair, batch_size) * count
        batches += count
        log(f"scored {min(start + chunk, total)}/{total} examples")
    return weighted / batches


def head_scores(cfg: SmpConfig, tokenizer: Any, store: ArtifactStore, device: torch.device,
                trial_data: TaskData) -> torch.Tensor:
    """The task's ``[L, H]`` head scores from the ``smp_scores`` artifact (built if needed)."""
    if cfg.pruner == META_TRAIN:
        pruner_dir, key = pruner_artifact(cfg, tokenizer, store, device)
        pruner_id: dict[str, Any] = {"artifact": key}
    else:
        released = cfg.released_pruner_name()
        if released is not None:
            pruner_dir, digest = released_checkpoint(released, cfg.storage_root)
        else:
            pruner_dir, digest = released_pruner(cfg.pruner)
        # the file's hash, however it was named: a path to base.bin reuses released-base's scores
        pruner_id = {"released_sha256": digest}
    data = scoring_data(cfg, tokenizer, store, trial_data)
    pair = data.task.is_pair
    inputs = {"version": VERSION, "pruner": pruner_id, "plm": plm_identity(cfg),
              "task": data.task.name, "data": data.fingerprint, "pair": pair,
              "batch_size": cfg.mask_batch_size, "max_examples": cfg.mask_max_examples}

    def build(out: Path) -> None:
        cnn = load_pruner_checkpoint(pruner_dir).to(device)
        plm = load_plm(cfg, data.task.num_labels, device)
        tensors = subsample(data.train, cfg.mask_max_examples)
        log(f"scoring the heads of {data.task.name} on {len(tensors['input_ids'])} examples")
        began = time.perf_counter()
        scores = chunked_scores(plm, cnn, tensors, pair, cfg.mask_batch_size)
        (out / SCORES_FILE).write_text(json.dumps({
            "scores": scores.tolist(), "examples": len(tensors["input_ids"]), "pair": pair,
            "seconds": time.perf_counter() - began}))

    folder = store.get_or_build(SCORES_KIND, inputs, build)
    return torch.tensor(json.loads((folder / SCORES_FILE).read_text())["scores"])


def keep_mask(cfg: SmpConfig, scores: torch.Tensor) -> torch.Tensor:
    """The trial's keep-mask ``[L, H]`` at its prune ratio and allocation rule."""
    if cfg.allocation == "global":
        return head_mask_global(scores, cfg.prune_ratio)
    return head_mask_per_layer(scores, cfg.prune_ratio, exact_count=cfg.mask_exact_count)


def check_ratio_fits(cfg: SmpConfig, layers: int, heads: int) -> None:
    """Fail before any meta-training when the ratio cannot fit this architecture.

    Ties are the only other way a mask can fail (per-layer rule without exact counts);
    that is known once the scores are.
    """
    keep_mask(cfg, torch.arange(layers * heads, dtype=torch.float).reshape(layers, heads))

