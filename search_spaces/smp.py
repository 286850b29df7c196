"""``smp_<task>``: remove attention heads chosen by SMP's meta-trained pruner, then fine-tune.

Searched: the prune ratio (0.1-0.9), the allocation (the original per-layer rule or one
global ranking) and the fine-tune learning rate. Objectives: score up, weight sparsity up
(the CAP counting rule, so SMP and CAP trials share a front).

Every trial of a sweep shares one meta-trained pruner and one scoring pass per task (shared
artifacts under the storage root); only the mask ratio and the fine-tune differ. The profile
overlays scale meta-training: ``paper`` uses the authors' released pruner (``pruner=released``;
``--set pruner=meta-train`` meta-trains as the original: 8000 updates of 60 x 8 examples on
seven GLUE tasks, a GPU-day), ``dev`` is a scaled-down pruner that fits a CPU, ``demo`` and
``smoke`` barely train one and break score ties so every layer keeps its share of heads.
"""

from __future__ import annotations

from typing import Any

from facts.columns import SCORE, WEIGHT_SPARSITY
from search_spaces.space import SearchSpace
from search_spaces.tasks import GLUE_TASKS

# The five tasks of the shared data folder (qqp/mnli as 10k subsets): what `dev` can read.
DEV_META_TASKS = "sst2,cola,mrpc,qqp,mnli"


def define_smp(trial: Any) -> None:
    trial.suggest_float("prune_ratio", 0.1, 0.9)
    trial.suggest_categorical("allocation", ["per_layer", "global"])
    trial.suggest_float("learning_rate", 1e-5, 1e-4, log=True)


_PROFILES: dict[str, dict[str, Any]] = {
    # SMP:README.md fine-tune values; meta-training at the config defaults (the original's).
    # The authors' released pruner (base.bin for bert-base, large.bin for bert-large) instead
    # of a GPU-day of meta-training; --set pruner=meta-train meta-trains as the original.
    "paper": {"train_batch_size": 32, "num_train_epochs": 10, "max_seq_length": 128,
              "pruner": "released"},
    # A scaled-down pruner: 120 x 32 = 3840 examples, about 7 min on 2 free CPU cores (30 min
    # on a shared one; benchmarks/smp_speed.py), built once per storage root. The scoring pass
    # then reads 512 of each task's training rows (was all 8000: 5-10 min): the smallest
    # count whose masks at ratios 0.3/0.5/0.7 all match the mask of 2000 SST-2 rows (Jaccard
    # >= 0.95; benchmarks/smp_mask_stability.py). smp_fidelity.py uses this profile with
    # 4000 examples.
    "dev": {"num_train_epochs": 3, "meta_tasks": DEV_META_TASKS, "meta_updates": 120,
            "meta_batch_size": 16, "meta_accumulation": 2, "meta_max_examples_per_task": 1000,
            "mask_max_examples": 512},
    "demo": {"num_train_epochs": 2, "meta_tasks": "sst2,mrpc", "meta_updates": 3,
             "meta_batch_size": 8, "meta_accumulation": 1, "meta_max_examples_per_task": 32,
             "mask_max_examples": 128, "mask_exact_count": True},
    # The tiny model has 4 heads per layer: a global ratio above 0.75 would empty a layer,
    # so smoke sweeps use the per-layer rule (tests cover the global rule directly).
    "smoke": {"meta_tasks": "sst2,mrpc", "meta_updates": 2, "meta_batch_size": 4,
              "meta_accumulation": 1, "meta_max_examples_per_task": 8,
              "mask_exact_count": True, "allocation": "per_layer"},
}


# Measured defaults (benchmarks/search_efficiency.py on benchmarks/search_table/smp_sst2.csv,
# 61 recorded trials, seed noise from its repeats, 64 simulated trials per run): GP without
# early stopping reaches 95% of the table front's hypervolume in 11.2 +- 0.4 trials against
# random search's 33.5 +- 4.3 and TPE's 14.6 +- 1.4 (20 seeds each); with early stopping GP
# needs 20.6 +- 5.5 trials (5 seeds) and more compute (937 s against 765 s). A live check agreed
# (README, Search efficiency). Other tasks are not measured.
MEASURED = {"sst2": {"default_sampler": "gp", "default_early_stop": False}}


def smp_spaces() -> list[SearchSpace]:
    return [
        SearchSpace(
            name=f"smp_{task}",
            trainable="smp",
            description=f"SMP head pruning on {task.upper()}: prune ratio, allocation, lr",
            define=define_smp,
            objectives=((SCORE, "max"), (WEIGHT_SPARSITY, "max")),
            fixed={"task": task},
            profiles=_PROFILES,
            **MEASURED.get(task, {}),
        )
        for task in GLUE_TASKS
    ]
