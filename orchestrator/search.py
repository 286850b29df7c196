"""The Optuna side of a sweep: samplers, constraints, and what the study is told.

Stock ``OptunaSearch`` tells the study COMPLETE with the last reported values for every trial
that stops, including trials stopped early, whose low-fidelity values would then enter the
Pareto front and the sampler's model. :class:`SweepSearch` tells such trials PRUNED instead
(a trial is finished only when its last result says ``is_final``), records which Tune trial
each Optuna trial belongs to (so ``resume`` can reconcile the journal), and sets the trial's
constraint values (Optuna 5's ``Trial.set_constraint``, which every sampler reads) before it
is told.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ray.tune.search.optuna import OptunaSearch

from analysis.layout import TUNE_TRIAL_ATTR
from orchestrator.launch_options import SAMPLERS, check_sampler
from trainables import report_keys as K

__all__ = ["SAMPLERS", "TUNE_TRIAL_ATTR", "SweepSearch", "constraint_values", "make_sampler"]


def constraint_values(result: Mapping[str, Any],
                      constraints: Sequence[tuple[str, str, float]]) -> dict[str, float] | None:
    """Optuna constraint values (<= 0 feasible) for ``(metric, op, bound)`` constraints."""
    values = {}
    for metric, op, bound in constraints:
        value = result.get(metric)
        if not isinstance(value, (int, float)) or value != value:
            return None
        values[f"{metric}{op}{bound:g}"] = bound - value if op == ">=" else value - bound
    return values


def rebase_paths(config: dict, old_root: str, new_root: str) -> dict:
    """``config`` with every path under ``old_root`` moved under ``new_root`` (the storage
    root an experiment was launched in, and the one it is resumed from)."""
    old = old_root.rstrip("/")
    out = dict(config)
    for key, value in config.items():
        if isinstance(value, str) and (value == old or value.startswith(old + "/")):
            out[key] = new_root.rstrip("/") + value[len(old):]
    return out


def make_sampler(name: str, seed: int | None, num_objectives: int,
                 constrained: bool, population: int | None = None) -> Any:
    """One of Optuna's multi-objective capable samplers by name (checked by
    :func:`orchestrator.launch_options.check_sampler`).

    Constraints need no ``constraints_func`` (deprecated in Optuna 5): the searcher sets
    them on each trial and TPE, NSGA-II and GP read them from there.
    """
    import warnings

    import optuna

    check_sampler(name, constrained)
    if name == "tpe":
        # constant_liar penalises running trials, so parallel trials spread out.
        return optuna.samplers.TPESampler(seed=seed, constant_liar=True)
    if name in ("nsga2", "nsga3"):
        # Optuna 5.1's genetic samplers hold a lock Ray cannot pickle: ours recreate it.
        from orchestrator.sampler_pickling import NSGAIIISampler, NSGAIISampler

        cls = NSGAIISampler if name == "nsga2" else NSGAIIISampler
        with warnings.catch_warnings():  # NSGA-III: "experimental" since Optuna 3.2
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return cls(seed=seed, population_size=population or 8)
    if name == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    # qmc: a space-filling design (scrambled Sobol, seeded): what recorded benchmark tables
    # use. Like random it ignores constraints; categoricals fall back to random draws.
    with warnings.catch_warnings():  # "experimental" since Optuna 3.0; stable in use
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.QMCSampler(qmc_type="sobol", scramble=True, seed=seed,
                                          warn_independent_sampling=False)


def name_objectives(study: Any, metric: str | Sequence[str] | None) -> None:
    """Give the study's objectives the metrics' names (``score``, ``weight_sparsity``, ...),
    which optuna-dashboard shows instead of "0", "1"; a resumed study that has them already
    is not written to again."""
    import warnings

    import optuna

    if metric is None:
        return
    names = [metric] if isinstance(metric, str) else list(metric)
    if len(names) != len(study.directions) or study.metric_names == names:
        return
    with warnings.catch_warnings():  # Optuna marks set_metric_names experimental
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        study.set_metric_names(names)


class SweepSearch(OptunaSearch):
    """``OptunaSearch`` that tells early-stopped trials PRUNED and records constraints."""

    def __init__(self, *args: Any, constraints: Sequence[tuple[str, str, float]] = (),
                 targets: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.constraints = tuple(constraints)
        self.targets = targets  # an orchestrator.target_plan.TargetPlan with --targets

    def _setup_study(self, mode: Any) -> None:
        super()._setup_study(mode)
        name_objectives(self._ot_study, self._metric)

    def rebase(self, journal: str, roots: tuple[str, str] | None = None) -> None:
        """Use the journal ``journal`` and move config paths from ``roots[0]`` to ``roots[1]``.

        Tune pickles this searcher with the absolute journal path of the folder it was
        launched in; ``resume`` of a copied or moved experiment calls this so that the study
        goes on in the folder it was given (see :mod:`orchestrator.relocate`). It applies to
        the state restored later from ``searcher-state-*.pkl`` too (:meth:`restore`).
        """
        self._home = (journal, roots)
        self._apply_home()

    def restore(self, checkpoint_path: str) -> None:
        home = self.__dict__.get("_home")
        super().restore(checkpoint_path)  # replaces __dict__ with the saved one
        self._home = home
        self._apply_home()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_home", None)  # this driver's folder, not the one a later resume is given
        return state

    def _apply_home(self) -> None:
        home = self.__dict__.get("_home")
        if not home:
            return
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        journal = home[0]
        study = getattr(self, "_ot_study", None)
        for storage in {id(s): s for s in (getattr(self, "_storage", None),
                                           getattr(study, "_storage", None))}.values():
            backend = getattr(storage, "_backend", None)
            if isinstance(storage, JournalStorage) and isinstance(backend, JournalFileBackend) \
                    and backend._file_path != journal:
                # Same storage object (the study and its trials keep pointing at it), new
                # file; the in-memory replay restarts from that file's first record.
                storage._backend = JournalFileBackend(journal)
                storage._replay_result = type(storage._replay_result)(storage._worker_id_prefix)

    def _rebased(self, config: dict | None) -> dict | None:
        roots = (self.__dict__.get("_home") or (None, None))[1]
        # Searcher.FINISHED is a string, None means "not now": only a config is rebased.
        return rebase_paths(config, *roots) if roots and isinstance(config, dict) else config

    def suggest(self, trial_id: str) -> dict | None:
        return self._rebased(self._suggest(trial_id))

    def _suggest(self, trial_id: str) -> dict | None:
        if self.targets is not None and trial_id not in self._ot_trials:
            # The target is ours to choose (budget spread over targets); Optuna samples the
            # other knobs of the enqueued trial around it.
            from orchestrator.target_plan import TARGET_PARAM

            self._ot_study.enqueue_trial({TARGET_PARAM: self.targets.next_target()})
        config = super().suggest(trial_id)
        ot_trial = self._ot_trials.get(trial_id)
        if ot_trial is not None:
            ot_trial.set_user_attr(TUNE_TRIAL_ATTR, trial_id)
        if self.targets is not None and config is not None:
            config = self.targets.assign(trial_id, config)
        return config

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        if self._finished_in_study(trial_id):
            return
        super().on_trial_result(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None,
                          error: bool = False) -> None:
        if self.targets is not None:
            self.targets.record(trial_id, result,
                                bool(result and not error and result.get(K.IS_FINAL)))
        if self._finished_in_study(trial_id):
            return None
        if trial_id in self._completed_trials or trial_id not in self._ot_trials:
            return super().on_trial_complete(trial_id, result, error)
        ot_trial = self._ot_trials[trial_id]
        if result and not error and not result.get(K.IS_FINAL):
            # Stopped before the end (early stopping, time budget): never a front point.
            self._tell(ot_trial, None, "PRUNED")
            self._completed_trials.add(trial_id)
            return None
        if result and self.constraints:
            values = constraint_values(result, self.constraints)
            for key, value in (values or {}).items():
                ot_trial.set_constraint(key, value)
        return super().on_trial_complete(trial_id, result, error)

    def _finished_in_study(self, trial_id: str) -> bool:
        """Whether the study already holds this trial's end, though Tune still runs it.

        A driver killed after a trial ended but before Tune's next state snapshot leaves Tune
        restoring that trial from its last checkpoint, while the journal has it finished;
        reporting to it would raise ``UpdateFinishedTrialError`` and stop the resumed sweep.
        The study keeps what it was told first (the rerun's rows are the same rows, written
        once); the searcher just stops talking to that trial.
        """
        if trial_id in self._completed_trials or trial_id not in self._ot_trials:
            return False
        ot_trial = self._ot_trials[trial_id]
        state = self._ot_study._storage.get_trial(ot_trial._trial_id).state
        if not state.is_finished():
            return False
        self._completed_trials.add(trial_id)
        return True

    def _tell(self, ot_trial: Any, values: Any, state: str) -> None:
        from optuna.trial import TrialState

        self._ot_study.tell(ot_trial, values, state=TrialState[state])
