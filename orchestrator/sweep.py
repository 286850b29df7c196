"""Assembling and running the Ray Tune sweep.

The Optuna study lives in ``optuna.journal`` inside the experiment folder (JournalStorage,
written only by this driver), with every objective given to ``OptunaSearch`` (Tune's
``TuneConfig`` takes a single metric). A ``ConcurrencyLimiter`` caps running trials, and the
Parquet callback writes each result as it arrives.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from orchestrator.experiment import Experiment
from orchestrator.settings import SweepSettings

# Every report carries a checkpoint, so Tune snapshots its state often; that is intended.
os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")



@dataclass(frozen=True)
class Resources:
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0


@dataclass(frozen=True)
class SweepPlan:
    experiment: Experiment
    sweep: SweepSettings
    num_samples: int
    concurrency: int
    resources: Resources
    seed: int | None = None
    max_failures: int = 0
    quiet: bool = False  # no per-trial progress lines
    verbosity: int = 0  # Tune's own console output (0: none; our progress lines instead)


def make_sampler(seed: int | None, num_objectives: int) -> Any:
    import optuna

    # TPE handles several objectives in Optuna 5; constant_liar spreads parallel trials.
    return optuna.samplers.TPESampler(seed=seed, constant_liar=True,
                                      n_startup_trials=10 if num_objectives == 1 else 8)


def make_searcher(plan: SweepPlan) -> Any:
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend
    from ray.tune.search import ConcurrencyLimiter
    from ray.tune.search.optuna import OptunaSearch

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = plan.sweep.space
    metrics, modes = space.metrics, space.modes
    storage = JournalStorage(JournalFileBackend(str(plan.experiment.journal)))
    searcher = OptunaSearch(
        space=space.define_by_run(plan.sweep.profile, plan.sweep.overrides),
        metric=metrics if len(metrics) > 1 else metrics[0],
        mode=modes if len(modes) > 1 else modes[0],
        sampler=make_sampler(plan.seed, len(metrics)),
        storage=storage,
        study_name=plan.experiment.name,
        seed=plan.seed,
    )
    return ConcurrencyLimiter(searcher, max_concurrent=plan.concurrency)


def make_tuner(plan: SweepPlan) -> Any:
    from ray import tune

    from orchestrator.results import ParquetResultsCallback
    from trainables.ray_adapter import tune_trainable

    space = plan.sweep.space
    trainable = tune.with_resources(
        tune_trainable(space.trainable),
        {"cpu": plan.resources.cpus_per_trial, "gpu": plan.resources.gpus_per_trial},
    )
    identity = {"experiment": plan.experiment.name, "space": space.name,
                "profile": plan.sweep.profile}
    callback = ParquetResultsCallback(
        str(plan.experiment.results_dir), identity, plan.sweep.searched, space.metrics,
        plan.num_samples, quiet=plan.quiet)
    name_trial = _TrialNamer(space.name)
    return tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=make_searcher(plan),
            num_samples=plan.num_samples,
            trial_name_creator=name_trial,
            trial_dirname_creator=name_trial,
        ),
        run_config=tune.RunConfig(
            name=plan.experiment.name,
            storage_path=str(plan.experiment.storage),
            callbacks=[callback],
            checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
            failure_config=tune.FailureConfig(max_failures=plan.max_failures),
            verbose=plan.verbosity,
        ),
    )


class _TrialNamer:
    """Names trials ``<space>_<trial_id>`` in Tune's output, folders and the dashboard."""

    def __init__(self, space: str) -> None:
        self.space = space

    def __call__(self, trial: Any) -> str:
        return f"{self.space}_{trial.trial_id}"


def run_sweep(plan: SweepPlan) -> Any:
    """Fit the sweep; returns Tune's ResultGrid."""
    if plan.verbosity == 0:
        # Tune's new console output prints its banner even at verbose=0; the legacy engine
        # at verbose=0 is silent and our progress lines speak instead.
        os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    return make_tuner(plan).fit()
