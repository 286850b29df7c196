"""The dense reference of a sweep: one dense fine-tune of its model, task and profile, shared.

A pruned front means little without the score of the unpruned model trained on the same data
with the same budget. This module builds that model once per storage root as a shared artifact
(kind ``dense_baseline``, :class:`trainables.artifacts.ArtifactStore`: built under a lock,
reused by every later sweep with the same settings) and returns what its evaluation measured:
``score`` with its ``score_se``, ``eval_examples`` and ``majority_score`` (the same evidence
every trial row carries, :mod:`trainables.score_evidence`). The orchestrator records it in the
sweep's ``experiment.json`` (``dense_baseline``), and the analysis draws it on every front.

The recipe is the sweep's settings (model, task, data, subset, sequence length, batch size,
steps or epochs, precision) as the dense trainable reads them; values the sweep searches (an
SMP sweep's ``learning_rate``) are not in the sweep's settings and take the dense fine-tune's
defaults, so one reference serves every trial. CAP sweeps need none: their teacher is a dense
fine-tune already (:mod:`trainables.cap.teacher`).

Example:
    >>> record = ensure_dense_baseline({"task": "sst2", "model": "tiny",
    ...                                 "synthetic_data": True, "max_steps": 4,
    ...                                 "storage_root": "/tmp/exps"})   # doctest: +SKIP
    >>> record["score"], record["score_se"], record["reused"]          # doctest: +SKIP
    (0.5, 0.125, False)
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trainables.config import DenseConfig, from_mapping, to_dict

KIND = "dense_baseline"
VERSION = 1  # bump when the recipe changes, so that old references are not reused
#: Fields that say where or how fast the model is computed, not what it learns: left out of
#: the artifact's key (a reference built on a GPU serves a CPU sweep of the same settings).
RUNTIME_ONLY = ("device", "num_threads", "storage_root", "measure_latency", "eval_batch_size",
                "trim_padding")
#: What the record keeps of the reference's final evaluation (the evidence of its score).
RECORDED_METRICS = ("score", "score_se", "eval_examples", "majority_score", "collapsed", "step")


def baseline_config(settings: Mapping[str, Any]) -> DenseConfig:
    """The dense fine-tune for a sweep's merged ``settings``: every field the dense trainable
    knows, taken from them (others: its defaults); latency is not measured."""
    fields = {f.name for f in dataclasses.fields(DenseConfig)}
    chosen = {k: v for k, v in settings.items() if k in fields}
    chosen["measure_latency"] = False
    return from_mapping(DenseConfig, chosen)


def baseline_inputs(cfg: DenseConfig) -> dict[str, Any]:
    """What determines the reference: the artifact key's inputs."""
    recipe = {k: v for k, v in to_dict(cfg).items() if k not in RUNTIME_ONLY}
    return {"version": VERSION, "recipe": recipe}


def ensure_dense_baseline(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Build (or reuse) the dense reference of ``settings`` and return its record.

    Returns ``{"score", "score_se", "eval_examples", "majority_score", "collapsed", "step",
    "artifact": folder, "reused": bool, "recipe": {...}}``. Without a ``storage_root`` the
    model is trained in a temporary folder and not kept (``artifact`` is None).
    """
    from trainables.artifacts import ArtifactStore, store_or_temporary
    from trainables.dense import train_and_save

    cfg = baseline_config(settings)
    inputs = baseline_inputs(cfg)
    root = settings.get("storage_root")
    store = ArtifactStore.under_storage(root) if root else None
    with store_or_temporary(store, "dense-baseline-") as chosen:
        reused = chosen.lookup(KIND, inputs) is not None
        folder = chosen.get_or_build(
            KIND, inputs, lambda tmp: train_and_save(cfg, tmp),
            on_wait=lambda holder: print(f"[dense] waiting for the dense baseline built by "
                                         f"{holder}", flush=True))
        metrics = read_metrics(folder)
    return {**{k: metrics.get(k) for k in RECORDED_METRICS},
            "artifact": str(folder) if store is not None else None, "reused": reused,
            "recipe": inputs["recipe"]}


def read_metrics(folder: Path) -> dict[str, Any]:
    """The final metrics a built reference recorded (``metrics.json``, written by
    :func:`trainables.dense.train_and_save`)."""
    record = json.loads((Path(folder) / "metrics.json").read_text())
    metrics = record.get("metrics", {}) if isinstance(record, dict) else {}
    return metrics if isinstance(metrics, dict) else {}
