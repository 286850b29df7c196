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
# Tune's default CSV and TensorBoard loggers duplicate the Parquet results and cost time per
# result (TensorBoard also imports torch into the driver); only the JSON logger is kept,
# because Tune's own ResultGrid reads result.json.
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")



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
    sampler: str = "tpe"
    constraints: tuple[tuple[str, str, float], ...] = ()
    time_budget_s: float | None = None
    early_stop: bool = True
    warm_start: tuple[Any, ...] = ()  # frozen Optuna trials to seed the study with
    max_failures: int = 0
    reuse_actors: bool = False  # keep trial processes for the next trial (same resources)
    quiet: bool = False  # no per-trial progress lines
    verbosity: int = 0  # Tune's own console output (0: none; our progress lines instead)
    targets: Any = None  # orchestrator.targets.TargetPlan: --targets, else None


def journal_storage(experiment: Experiment) -> Any:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    experiment.journal.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(experiment.journal)))


def make_searcher(plan: SweepPlan) -> Any:
    import optuna
    from ray.tune.search import ConcurrencyLimiter

    from orchestrator.search import SweepSearch, make_sampler

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = plan.sweep.space
    metrics, modes = space.metrics, space.modes
    storage = journal_storage(plan.experiment)
    if plan.warm_start:
        directions = ["maximize" if m == "max" else "minimize" for m in modes]
        study = optuna.create_study(storage=storage, study_name=plan.experiment.name,
                                    directions=directions, load_if_exists=True)
        study.add_trials(list(plan.warm_start))
    define = space.define_by_run(plan.sweep.profile, plan.sweep.overrides)
    searcher = SweepSearch(
        space=plan.targets.wrap(define) if plan.targets else define,
        metric=metrics if len(metrics) > 1 else metrics[0],
        mode=modes if len(modes) > 1 else modes[0],
        sampler=make_sampler(plan.sampler, plan.seed, len(metrics), bool(plan.constraints)),
        storage=storage,
        study_name=plan.experiment.name,
        seed=plan.seed,
        constraints=plan.constraints,
        targets=plan.targets,
    )
    return ConcurrencyLimiter(searcher, max_concurrent=plan.concurrency)


def make_scheduler(plan: SweepPlan) -> Any:
    if not plan.early_stop:
        return None
    from orchestrator.early_stop import ParetoRungScheduler

    space = plan.sweep.space
    modes = dict(space.objectives)
    if modes.get("score") != "max" or modes.get("weight_sparsity", "max") != "max":
        return None  # the rung ranking assumes score up (and sparsity up)
    return ParetoRungScheduler(min_trials=max(4, plan.concurrency))


def make_trainable(trainable: str, space_name: str, resources: Resources) -> Any:
    """The Tune trainable with its per-trial resources (also used to restore a sweep)."""
    from ray import tune

    from trainables.ray_adapter import tune_trainable_class

    cls = tune.with_resources(
        tune_trainable_class(trainable, space_name),
        {"cpu": resources.cpus_per_trial, "gpu": resources.gpus_per_trial})
    # with_resources subclasses it as "ResourceTrainable"; keep the space's name for the
    # dashboard and the process titles (`ray::<space>.train`).
    cls.__name__ = cls.__qualname__ = space_name
    return cls


def make_tuner(plan: SweepPlan) -> Any:
    from ray import tune

    from ray.tune.logger import JsonLoggerCallback

    from orchestrator.results import ParquetResultsCallback
    space = plan.sweep.space
    trainable = make_trainable(space.trainable, space.name, plan.resources)
    identity = {"experiment": plan.experiment.name, "space": space.name,
                "profile": plan.sweep.profile}
    experiment = plan.experiment
    callback = ParquetResultsCallback(
        experiment.storage.text, experiment.results_dir, identity, plan.sweep.searched,
        space.metrics, plan.num_samples, quiet=plan.quiet,
        journal_mirror=None if experiment.storage.is_local else experiment)
    name_trial = _TrialNamer(space.name)
    return tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=make_searcher(plan),
            scheduler=make_scheduler(plan),
            num_samples=plan.num_samples,
            time_budget_s=plan.time_budget_s,
            reuse_actors=plan.reuse_actors,
            trial_name_creator=name_trial,
            trial_dirname_creator=name_trial,
        ),
        run_config=tune.RunConfig(
            name=experiment.name,
            storage_path=experiment.storage.root,
            storage_filesystem=None if experiment.storage.is_local else experiment.storage.fs,
            callbacks=[callback, JsonLoggerCallback()],
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
