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

from facts import columns as C
from orchestrator.experiment import Experiment
from orchestrator.settings import SweepSettings

# Every report carries a checkpoint, so Tune snapshots its state often; that is intended.
os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
# Tune's default logger set includes a CSV logger that duplicates the Parquet results; we add
# the loggers ourselves (JSON, which Tune's ResultGrid reads, and those of --log-to).
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
    log_to: tuple[str, ...] = ("tensorboard",)  # learning-curve loggers (monitoring.LOG_TARGETS)
    targets: Any = None  # orchestrator.target_plan.TargetPlan: --targets, else None


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
    define = space.define_with(plan.sweep.settings)
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
    if modes.get(C.SCORE) != "max" or modes.get(C.WEIGHT_SPARSITY, "max") != "max":
        return None  # the rung ranking assumes score up (and sparsity up)
    return ParetoRungScheduler(min_trials=max(4, plan.concurrency))


def make_trainable(trainable: str, space_name: str, resources: Resources,
                   reuse_actors: bool = False) -> Any:
    """The Tune trainable with its per-trial resources (also used to restore a sweep)."""
    from ray import tune

    from trainables.ray_adapter import tune_trainable_class

    cls = tune.with_resources(
        tune_trainable_class(trainable, space_name, reuse=reuse_actors),
        {"cpu": resources.cpus_per_trial, "gpu": resources.gpus_per_trial})
    # with_resources subclasses it as "ResourceTrainable"; keep the space's name for the
    # dashboard and the process titles (`ray::<space>.train`).
    cls.__name__ = cls.__qualname__ = space_name
    return cls


def recorded_params(sweep: SweepSettings) -> list[str]:
    """The ``param_<name>`` columns of every row: the searched parameters, then the space's
    parameters that ``--set`` or the profile pinned (``final_lambda=4000`` is recorded as
    ``param_final_lambda`` like a searched one, so fronts and reports can show it)."""
    pinned = [name for name in sweep.space.suggestions() if name not in sweep.searched]
    return [*sweep.searched, *pinned]


def make_tuner(plan: SweepPlan, search_alg: Any = None) -> Any:
    """The Tuner of a sweep; ``search_alg`` replaces the Optuna searcher (``confirm`` runs a
    fixed list of configurations through the same writer, progress and loggers)."""
    from ray import tune

    from ray.tune.logger import JsonLoggerCallback

    from orchestrator.progress import ConsoleProgress
    from orchestrator.results import ParquetResultsCallback

    space = plan.sweep.space
    trainable = make_trainable(space.trainable, space.name, plan.resources, plan.reuse_actors)
    identity = {"experiment": plan.experiment.name, "space": space.name,
                "profile": plan.sweep.profile}
    experiment = plan.experiment
    callback = ParquetResultsCallback(
        experiment.storage.text, experiment.results_dir, identity, recorded_params(plan.sweep),
        space.metrics, plan.num_samples, quiet=plan.quiet,
        journal_mirror=None if experiment.storage.is_local else experiment)
    progress = ConsoleProgress(space.name, plan.sweep.searched, space.metrics,
                               plan.num_samples, plan.concurrency, quiet=plan.quiet)
    name_trial = _TrialNamer(space.name)
    from orchestrator.live_trials import LiveTrialsSync

    searcher = search_alg if search_alg is not None else make_searcher(plan)
    return tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=searcher,
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
            storage_filesystem=experiment.storage.tune_filesystem,
            callbacks=[callback, progress, JsonLoggerCallback(), LiveTrialsSync(searcher),
                       *logger_callbacks(plan.log_to, experiment)],
            checkpoint_config=tune.CheckpointConfig(num_to_keep=2),
            failure_config=tune.FailureConfig(max_failures=plan.max_failures),
            verbose=plan.verbosity,
        ),
    )


def mlflow_tracking_uri(experiment: Experiment) -> str:
    """A local MLflow file store: ``<experiment>/mlruns`` (offline; ``mlflow ui
    --backend-store-uri`` that folder), or the driver's cache when the storage is a URI."""
    from pathlib import Path

    from orchestrator.storage import local_cache_dir

    folder = Path(experiment.path) if experiment.storage.is_local else \
        local_cache_dir() / "mlruns" / experiment.name
    return (folder / "mlruns").as_uri() if experiment.storage.is_local else folder.as_uri()


def logger_callbacks(log_to: tuple[str, ...], experiment: Experiment) -> list[Any]:
    """Ray Tune's own logger callbacks for the learning curves asked for.

    ``tensorboard``: event files per trial in the trial's folder,
    ``<experiment>/<space>_<trial_id>/events.out.tfevents.*`` (``tensorboard --logdir
    <experiment>``); ``mlflow``: one MLflow run per trial in :func:`mlflow_tracking_uri`;
    ``wandb``: one W&B run per trial in project ``<experiment name>`` (needs ``wandb login``
    or ``WANDB_MODE=offline``).
    """
    callbacks: list[Any] = []
    if "tensorboard" in log_to:
        from ray.tune.logger import TBXLoggerCallback

        callbacks.append(TBXLoggerCallback())
    if "mlflow" in log_to:
        from ray.air.integrations.mlflow import MLflowLoggerCallback

        # MLflow 3 keeps its file store (the offline, serverless one) behind this switch.
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")

        callbacks.append(MLflowLoggerCallback(tracking_uri=mlflow_tracking_uri(experiment),
                                              experiment_name=experiment.name,
                                              save_artifact=False))
    if "wandb" in log_to:
        from ray.air.integrations.wandb import WandbLoggerCallback

        callbacks.append(WandbLoggerCallback(project=experiment.name, log_config=True))
    return callbacks


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
