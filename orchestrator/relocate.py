"""An experiment is resumed where it is now, not where it was launched.

Ray Tune pickles the objects a sweep was built with into ``tuner.pkl`` and the searcher's
checkpoint, and ours carry absolute paths of the folder the sweep was launched in: the
results writer (rows, consolidated files), the Optuna journal (inside the study the searcher
pickles), MLflow's tracking URI, and the trials' ``storage_root`` (shared artifacts). Tune
rebases its own trial folders and checkpoints on the folder ``Tuner.restore`` is given, but
not those, nor the storage context its search generator saved (new trials are created
from it): a copied experiment (``cp -a old new``) was resumed into the original, a moved one
(``mv old new``) re-created ``old/`` and failed there. :func:`rebase` points every one of
them at the folder ``resume`` was given, so a resumed sweep never writes outside it.

The experiment's *name* is part of its data (the Optuna study's name, the ``experiment``
column of every row), so a folder renamed after launch is refused instead
(:func:`check_not_renamed`); moving it to another storage root keeps the name and works.
"""

from __future__ import annotations

import copy
from typing import Any

from ray.tune import Callback
from ray.tune.search import SearchGenerator, Searcher

from orchestrator.errors import UsageError
from orchestrator.experiment import Experiment


def check_not_renamed(experiment: Experiment, record: dict[str, Any]) -> None:
    """Refuse an experiment folder whose name is not the one it was launched with."""
    launched = record.get("name")
    if isinstance(launched, str) and launched != experiment.name:
        raise UsageError(
            f"experiment folder {experiment.uri} was launched as {launched!r}, and its Optuna "
            f"study and result rows carry that name; rename the folder back to {launched} "
            f"(any storage root will do) and resume it as {launched}")


def rebase(tuner: Any, experiment: Experiment) -> str | None:
    """Point the restored sweep's paths at ``experiment``; returns the launch folder when it
    differs (the experiment was copied or moved), else None."""
    from orchestrator.results import ParquetResultsCallback

    internal = getattr(tuner, "_local_tuner", None)
    if internal is None:  # Ray client mode keeps the tuner remote; this CLI never uses it
        raise UsageError("resume through a Ray client (ray://) is not supported; use "
                         "--address HOST:PORT of the cluster's head node")
    run_config = internal._run_config
    callbacks = run_config.callbacks if run_config.callbacks is not None else []
    run_config.callbacks = callbacks
    writer = next((c for c in callbacks if isinstance(c, ParquetResultsCallback)), None)
    launched = writer.results_dir.rsplit("/", 1)[0] if writer is not None else None
    new_root = experiment.storage.root
    old_root = launched.rsplit("/", 1)[0] if launched else None
    roots = (old_root, new_root) if old_root and old_root != new_root else None

    if writer is not None:
        writer.rebase(experiment.storage.text, experiment.results_dir,
                      None if experiment.storage.is_local else experiment)
    for callback in callbacks:
        if type(callback).__name__ == "MLflowLoggerCallback":  # no import: mlflow is optional
            from orchestrator.sweep import mlflow_tracking_uri

            callback.tracking_uri = mlflow_tracking_uri(experiment)
    tune_config = internal._tune_config
    searcher = getattr(tune_config.search_alg, "searcher", tune_config.search_alg)
    if hasattr(searcher, "rebase"):  # SweepSearch inside the ConcurrencyLimiter
        searcher.rebase(str(experiment.journal), roots)
    if isinstance(tune_config.search_alg, Searcher):
        # Tune wraps the searcher in a SearchGenerator whose restored state holds the launch
        # folder's storage context: the trials it creates from now on would write there.
        tune_config.search_alg = RebasingSearchGenerator(tune_config.search_alg, experiment)
    if roots is not None:
        callbacks.append(RebaseTrialConfigs(*roots))
    return launched if launched and launched != experiment.path else None


class RebasingSearchGenerator(SearchGenerator):
    """Tune's own ``SearchGenerator`` (what ``tune.run`` would wrap the searcher in), whose
    restored experiment writes its new trials into the folder ``resume`` was given."""

    def __init__(self, searcher: Searcher, experiment: Experiment) -> None:
        super().__init__(searcher)
        self._home = (experiment.storage.root, experiment.name, experiment.storage)

    def set_state(self, state: dict) -> None:
        super().set_state(state)
        spec_experiment = self._experiment
        storage = getattr(spec_experiment, "storage", None)
        if storage is None:
            return
        root, name, ours = self._home
        if storage.storage_fs_path == root and storage.experiment_dir_name == name:
            return
        moved = copy.copy(storage)  # as Tune rebases its restored trials (_restore_trials)
        moved.storage_filesystem = ours.tune_filesystem
        moved.storage_fs_path = root
        moved.experiment_dir_name = name
        spec_experiment.storage = moved
        spec_experiment.spec["storage"] = moved


class RebaseTrialConfigs(Callback):
    """Moves the restored trials' config paths (``storage_root``) to the new storage root
    before Tune starts them again (new trials get theirs from the searcher, already moved)."""

    def __init__(self, old_root: str, new_root: str) -> None:
        self.old_root, self.new_root = old_root, new_root

    def on_step_begin(self, iteration: int, trials: list, **info: Any) -> None:
        from orchestrator.search import rebase_paths

        for trial in trials:
            moved = rebase_paths(trial.config, self.old_root, self.new_root)
            if moved != trial.config:
                trial.config.update(moved)
