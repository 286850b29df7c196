"""``launch --targets 0.5,0.9,0.97``: a sweep that runs in target coordinates.

Optuna searches the other knobs and which target a trial serves (a categorical parameter
``target_sparsity``); the method's own sparsity knob is no longer searched but derived per
trial from (target, knobs):

- CAP-m / movement (``pruning_method=topk``): ``final_threshold``, the keep ratio whose exact
  count under the counting rule is nearest the target (``trainables.knob_maps``);
- SMP: ``prune_ratio``, the head ratio nearest the target under the trial's allocation;
- CAP-soft / soft movement: ``final_lambda`` from the calibration model
  (:mod:`orchestrator.calibration`), refitted on every finished trial of the sweep and, with
  ``--warm-start``, on the earlier experiment's rows of the same model, task and profile.

Budget: round robin. Each new trial serves the target with the fewest trials running or
finished on it (failed and early-stopped trials do not count; ties: the lower target), so
every target gets an equal share whatever the calibration does. The searcher tells Optuna
which target by enqueueing it as a fixed parameter, so the sampler still models the other
knobs per target. Every trial's config carries ``target_sparsity`` and
``predicted_sparsity``; the results writer puts them in their schema columns and the Ray
adapter drops them before the trainable sees its config.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from analysis import schema as S
from facts import targets as facts_targets
from orchestrator.calibration import Covariate, LambdaCalibration, Observation
from orchestrator.errors import UsageError

TARGET_PARAM = S.TARGET_SPARSITY  # the Optuna parameter and the config key
# Settings that move CAP-soft's lambda -> sparsity curve. Those fixed within the sweep must be
# equal for two observations to share a fit; those searched enter the fit as covariates.
CONDITION_KEYS = ("model", "task", "pruning_method", "use_contrastive", "max_seq_length",
                  "train_batch_size", "max_train_examples", "num_train_epochs", "max_steps",
                  "warmup_steps", "warmup_ratio", "initial_warmup", "final_warmup",
                  "initial_threshold", "final_threshold", "mask_scores_learning_rate",
                  "mask_init", "learning_rate", "synthetic_data")
KNOBS = {"topk": "final_threshold", "smp": "prune_ratio", "soft": "final_lambda"}


def parse_targets(text: str) -> tuple[float, ...]:
    """``"0.5,0.9,0.97"`` -> ``(0.5, 0.9, 0.97)``, sorted; raises UsageError on bad input
    (the rule is :func:`facts.targets.parse_targets`', shared with ``analysis table``)."""
    try:
        return facts_targets.parse_targets(text)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def method_of(settings: Mapping[str, Any], trainable: str) -> str:
    """``topk``, ``soft`` or ``smp``: which map serves this space."""
    if trainable == "smp":
        return "smp"
    if trainable == "cap":
        return str(settings.get("pruning_method", "topk"))
    return ""


class TargetDefineByRun:
    """Wraps a space's define-by-run: suggests the target first, pins the derived knob.

    The knob's ``suggest_*`` call returns None (pinned) so Optuna never samples it; the
    searcher fills it in after the other knobs are known.
    """

    def __init__(self, base: Any, targets: Sequence[float], knob: str) -> None:
        self.base = base
        self.targets = list(targets)
        self.knob = knob
        base.pins = {**base.pins, knob: None}

    def __call__(self, trial: Any) -> dict[str, Any]:
        trial.suggest_categorical(TARGET_PARAM, self.targets)
        return self.base(trial)


@dataclass
class TargetPlan:
    """Everything the searcher needs to turn (target, knobs) into a trial config.

    Plain data (pickled with the searcher's state, so ``resume`` keeps it).
    """

    targets: tuple[float, ...]
    method: str  # topk | smp | soft
    layout: Any  # trainables.param_layout.ParamLayout
    condition_keys: tuple[str, ...] = ()
    calibration: LambdaCalibration | None = None
    warm_observations: tuple[Observation, ...] = ()
    observations: list[Observation] = field(default_factory=list)  # this sweep's
    served: dict[str, float] = field(default_factory=dict)  # trial id -> target
    landed: dict[str, float | None] = field(default_factory=dict)  # trial id -> achieved
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def knob(self) -> str:
        return KNOBS[self.method]

    def wrap(self, define_by_run: Any) -> TargetDefineByRun:
        return TargetDefineByRun(define_by_run, self.targets, self.knob)

    # -- which target the next trial serves --------------------------------------------
    def next_target(self) -> float:
        """Round robin: the target with the fewest trials running or finished on it (a
        failed or stopped trial does not count; ties: the lower target)."""
        counts = {t: 0 for t in self.targets}
        for trial_id, target in self.served.items():
            if target in counts and self.landed.get(trial_id, "running") is not None:
                counts[target] += 1
        return min(self.targets, key=lambda t: (counts[t], t))

    # -- the config of one trial ------------------------------------------------------------
    def assign(self, trial_id: str, config: dict[str, Any]) -> dict[str, Any]:
        """Fill the knob, ``target_sparsity`` and ``predicted_sparsity`` into ``config``."""
        from trainables.knob_maps import exact_knob

        target = float(config[TARGET_PARAM])
        if self.method == "soft":
            key = condition_key(config, self.condition_keys)
            observations = [o for o in (*self.warm_observations, *self.observations)
                            if o.key == key]
            value, predicted = self.calibration.propose(target, config, observations,
                                                        self.targets)
        else:
            _, value, predicted = exact_knob(self.method, target, self.layout,
                                             str(config.get("allocation", "per_layer")))
        config = {**config, self.knob: value, TARGET_PARAM: target,
                  S.PREDICTED_SPARSITY: predicted}
        if self.method == "soft" and config.get("lambda_control", True):  # --set parsed it
            # target mode steers with the in-run controller and lands on the target unless
            # --set lambda_control=false; the trial's config records which was used
            config["lambda_control"] = True
            config["lambda_control_target"] = target
        self.served[trial_id] = target
        self.configs[trial_id] = config
        return config

    def record(self, trial_id: str, result: Mapping[str, Any] | None, finished: bool) -> None:
        """A trial ended: remember where it landed; a finished soft trial feeds the fit."""
        if trial_id not in self.served or trial_id in self.landed:
            return  # not ours, or told twice (a resumed sweep)
        achieved = (result or {}).get(S.WEIGHT_SPARSITY)
        ok = finished and isinstance(achieved, (int, float)) and achieved == achieved
        self.landed[trial_id] = float(achieved) if ok else None
        config = self.configs.get(trial_id)
        if ok and self.method == "soft" and config is not None:
            self.observations.append(observation(config, float(achieved),
                                                 self.condition_keys, trial_id))


def condition_key(config: Mapping[str, Any], keys: Sequence[str]) -> tuple:
    return tuple((k, _plain(config.get(k))) for k in keys)


def _plain(value: Any) -> Any:
    """A setting as compared across sweeps: 3.0 epochs in one, 3 in another are the same."""
    return S.plain_value(value, whole_floats_as_int=True)


def observation(config: Mapping[str, Any], achieved: float, keys: Sequence[str],
                source: str) -> Observation:
    return Observation(math.log(float(config["final_lambda"])), achieved,
                       {k: v for k, v in config.items() if isinstance(v, (int, float))
                        and not isinstance(v, bool)}, condition_key(config, keys), source)


def plan_targets(text: str | None, sweep: Any, warm_source: tuple[dict, str] | None = None
                 ) -> TargetPlan | None:
    """Check ``--targets`` against the space and the model; None without ``--targets``.

    Raises:
        UsageError: bad targets, a space without a sparsity knob, the knob pinned by
            ``--set``, or a target the method cannot reach on this model (naming the max).
    """
    if text is None:
        return None
    targets = parse_targets(text)
    space, settings = sweep.space, sweep.settings
    method = "" if space.calibration else method_of(settings, space.trainable)
    if method not in KNOBS:
        raise UsageError(f"--targets: space {space.name!r} does not prune (no sparsity to aim "
                         "at); use an smp_* or cap_* space")
    knob = KNOBS[method]
    suggestions = space.suggestions()
    if knob in settings:
        raise UsageError(f"--targets sets {knob} for every trial; drop the --set {knob}=... "
                         "(or the --targets)")
    from trainables.knob_maps import UnreachableTargetError, exact_knob, soft_max_sparsity
    from trainables.param_layout import model_layout

    try:
        layout = model_layout(settings.get("model", "bert-base-uncased"))
    except (ValueError, RuntimeError) as exc:
        raise UsageError(f"--targets: {exc}") from None
    try:
        if method == "soft":
            ceiling = soft_max_sparsity(layout)
            too_high = [t for t in targets if t >= ceiling]
            if too_high:
                raise UnreachableTargetError(
                    f"target sparsity {too_high[0]:g} is beyond what CAP-soft reaches on this "
                    f"model (at most {ceiling:.4f}: each matrix keeps 0.5% of its weights)")
        else:
            allocations = ["per_layer"]
            if "allocation" in suggestions and "allocation" not in settings:
                allocations = list(suggestions["allocation"].choices)
            elif "allocation" in settings:
                allocations = [settings["allocation"]]
            for target in targets:
                for allocation in allocations:
                    exact_knob(method, target, layout, allocation)
    except UnreachableTargetError as exc:
        raise UsageError(f"--targets: {exc}") from None
    plan = TargetPlan(targets, method, layout)
    if method == "soft":
        plan.condition_keys = tuple(k for k in CONDITION_KEYS if k not in sweep.searched)
        plan.calibration = soft_calibration(space, sweep.searched, ceiling)
        if warm_source is not None:
            plan.warm_observations = tuple(warm_observations(warm_source, sweep, plan))
    return plan


def soft_calibration(space: Any, searched: Sequence[str], ceiling: float
                     ) -> LambdaCalibration:
    """The calibration model: the space's final_lambda range, the other searched numbers
    (minus the knob) as covariates."""
    suggestions = space.suggestions()
    lam = suggestions.get("final_lambda")
    log_range = (math.log(lam.low), math.log(lam.high)) if lam else (math.log(100.0),
                                                                    math.log(4000.0))
    covariates = [Covariate(name, float(s.low), float(s.high), bool(s.log))
                  for name, s in suggestions.items()
                  if name in searched and name != "final_lambda" and s.kind in ("float", "int")]
    return LambdaCalibration(ceiling, log_range, covariates)


def warm_observations(source: tuple[dict, str], sweep: Any, plan: TargetPlan
                      ) -> list[Observation]:
    """The finished CAP-soft rows of an earlier experiment of the same model, task and
    profile, as observations (their conditions still have to match to be used)."""
    from analysis.errors import AnalysisError
    from analysis.io import read_experiment

    record, location = source
    if record.get("profile") != sweep.profile:
        warnings.warn(f"--warm-start: {record.get('name', location)} ran profile "
                      f"{record.get('profile')!r}, not {sweep.profile!r}; its rows do not "
                      "calibrate final_lambda", stacklevel=2)
        return []
    try:
        df = read_experiment(location)
    except AnalysisError as exc:
        raise UsageError(f"--warm-start {location}: {exc}") from None
    if not len(df):
        return []
    final = S.completed_final_rows(df)
    base = dict(record.get("settings", {}))
    found = []
    for _, row in final.iterrows():
        params = {c[len("param_"):]: _plain(row[c]) for c in final.columns
                  if c.startswith("param_") and _plain(row[c]) is not None}
        config = {**base, **params}
        achieved = _plain(row.get(S.WEIGHT_SPARSITY))
        if config.get("final_lambda") is None or achieved is None:
            continue
        found.append(observation(config, float(achieved), plan.condition_keys,
                                 f"{record.get('name', location)}/{row[S.TRIAL_ID]}"))
    return found


def target_warm_trials(source: tuple[dict, str], sweep: Any, plan: TargetPlan) -> list[Any]:
    """The earlier experiment's finished trials in target coordinates for the Optuna study:
    each trial's target is its own ``target_sparsity`` or, for a sweep without targets, the
    target its sparsity landed on (:func:`facts.targets.landed_on`; others are left out)."""
    import optuna

    from analysis.io import read_experiment
    from orchestrator.warm_start import distribution

    record, location = source
    df = read_experiment(location)
    if not len(df):
        return []
    final = S.completed_final_rows(df)
    suggestions = sweep.space.suggestions()
    names = [n for n in sweep.searched if n != plan.knob]
    dists = {n: distribution(suggestions[n]) for n in names}
    dists[TARGET_PARAM] = optuna.distributions.CategoricalDistribution(list(plan.targets))
    trials = []
    for _, row in final.iterrows():
        achieved = _plain(row.get(S.WEIGHT_SPARSITY))
        target = _plain(row.get(S.TARGET_SPARSITY)) if S.TARGET_SPARSITY in row else None
        if target not in plan.targets and achieved is not None:
            target = facts_targets.landed_on(achieved, plan.targets)
        params = {n: _plain(row.get(S.param_column(n))) for n in names}
        values = [_plain(row.get(m)) for m in sweep.space.metrics]
        if target is None or any(v is None for v in (*params.values(), *values)):
            continue
        try:
            trials.append(optuna.trial.create_trial(
                params={**params, TARGET_PARAM: target}, distributions=dists, values=values,
                user_attrs={"warm_start": record.get("name", location)}))
        except ValueError:
            continue
    return trials


class LaunchTargets(NamedTuple):
    """What ``--targets`` gives ``launch``: the plan (None without ``--targets``) and, with
    ``--warm-start``, the earlier trials in target coordinates (None: keep the plain ones)."""

    plan: TargetPlan | None
    warm_trials: tuple[Any, ...] | None = None


def launch_targets(text: str | None, warm_start: str | None, sweep: Any,
                   storage: str) -> LaunchTargets:
    """``launch``'s part: the plan for ``--targets`` ``text`` (None without), checked before
    Ray starts; with ``--warm-start`` the study is seeded in target coordinates instead."""
    from orchestrator.warm_start import locate

    source = locate(storage, warm_start) if text is not None and warm_start else None
    plan = plan_targets(text, sweep, source)
    if plan is None:
        return LaunchTargets(None)
    warm = tuple(target_warm_trials(source, sweep, plan)) if source is not None else None
    how = {"topk": "exact keep ratio", "smp": "nearest head ratio",
           "soft": f"calibrated final_lambda ({len(plan.warm_observations)} warm-start rows)"}
    print(f"targets {', '.join(f'{t:g}' for t in plan.targets)}: {plan.knob} per trial "
          f"({how[plan.method]}), targets served in turn")
    return LaunchTargets(plan, warm)
