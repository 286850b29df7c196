"""The training code: data, models, and one ``run(config, report)`` per method.

Trainables are known by name; this registry imports nothing heavy until a name is used, so
the orchestrator can validate configs without torch.

Modules (``tests/trainables/test_package_contents.py`` keeps this list true):

  trainables and the loop they share
    dense           the dense fine-tune trainable (the baseline, and CAP's teacher)
    dense_baseline  a sweep's dense reference, built once per storage root and shared
    fixed_work      a trainable of fixed CPU work: what the orchestrator costs
    finetune        the fine-tuning loop every trainable shares (evaluate, report, resume)
    method          ``Method``: the seam between that loop and a pruning method
    prepare         what every trainable does first: runtime, task, tokenizer, data
    config          trainable configurations: typed, validated once, unknown keys refused
    smp/            SMP, head pruning by a meta-trained pruner (the package lists its modules)
    cap/            CAP, contrastive movement pruning (the package lists its modules)
    sparse/         sparse inference: kernels, per-layer and whole-model choice, the CLI

  what a trial measures and reports
    evaluation      metrics on the dev split(s), the task loss every method trains with
    score_evidence  what a score rests on: rows, labels, majority score, standard error
    latency         the final model against its dense twin, timed in alternation
    sparsity        the counting rule and the four sparsity columns
    param_layout    the counting rule's arithmetic from a model's shapes alone (torch-free)
    knob_maps       exact maps from a target sparsity to each method's knob (torch-free)
    report_keys     the report's keys (``facts.columns``' names, torch-free)
    reporting       the ``Reporter`` interface and a recording reporter
    checkpoint      trial checkpoints, and the final one's exportable stock folder
    heartbeat       progress lines from inside a training loop

  data and models
    tasks           the GLUE task table (``facts.tasks`` plus where the data lives) and
                    metrics
    data            load, subset, tokenise once, batch
    glue_sources    where GLUE examples come from: a data folder or the hub
    encoding        tokenised tensors and padding-trimmed batches
    toy             generated toy tasks for the demo and the tests
    models          model names, loading, BERT's layout table
    model_source    where a model name points, without torch
    hub             fail fast when something must come from the hub
    artifacts       shared artifacts many trials need and none should rebuild
    array_files     memory-mapped ``.npy`` arrays with an integrity record
    runtime         device, threads, seeds, mixed precision
    lr_schedule     the learning-rate multiplier (torch-free)
    lazy            PEP 562 lazy exports for the sub-packages
    ray_adapter     the one module where trainables meet Ray

Example:
    >>> from trainables import config_class, trainable_names
    >>> trainable_names()
    ['cap', 'dense', 'fixed_work', 'smp']
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

# name -> (run function, config class), as "module:attribute" so nothing loads eagerly.
_REGISTRY: dict[str, tuple[str, str]] = {
    "cap": ("trainables.cap.trainable:run", "trainables.cap.config:CapConfig"),
    "dense": ("trainables.dense:run", "trainables.config:DenseConfig"),
    "fixed_work": ("trainables.fixed_work:run", "trainables.fixed_work:FixedWorkConfig"),
    "smp": ("trainables.smp.trainable:run", "trainables.smp.config:SmpConfig"),
}


class UnknownTrainableError(ValueError):
    pass


def _load(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


def trainable_names() -> list[str]:
    return sorted(_REGISTRY)


def _entry(name: str) -> tuple[str, str]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownTrainableError(
            f"unknown trainable {name!r}; known: {', '.join(trainable_names())}"
        ) from None


def config_class(name: str) -> type:
    """The config dataclass of trainable ``name`` (torch-free import)."""
    return _load(_entry(name)[1])


def run_function(name: str) -> Callable[..., None]:
    """``run(config, report, *, resume_from=None)`` of trainable ``name`` (imports torch)."""
    return _load(_entry(name)[0])


__all__ = ["UnknownTrainableError", "config_class", "run_function", "trainable_names"]
