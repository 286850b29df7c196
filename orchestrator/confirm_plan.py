"""What ``confirm`` re-runs: the chosen trials of an experiment, each with K new seeds.

A search ranks trials by one seed each, on a subset of the evaluation split; the points a
paper quotes need more. :func:`plan_confirmation` picks trials of a finished experiment (its
front, its knee, the best trial at each target sparsity, or named trials), and for each one
builds K complete trial configurations: the experiment's settings, every parameter of the space
pinned to the value that trial ran with (searched or pinned alike, read from its
``param_<name>`` columns), a new seed, and with ``full_eval`` the task's whole evaluation split
(``max_eval_examples = None``, which the trainables read as "no subset").

Every run gets its own seed, never one the experiment used: the row's ``seed`` column then
names the run, and through the plan recorded in ``experiment.json`` (``confirms.runs``) the
trial it confirms, with no column added to the schema.

Everything here runs before Ray starts; bad input is one line naming the value and the rule.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from analysis import schema as S
from orchestrator.errors import UsageError

SELECTIONS = ("front", "knee", "targets", "trials")
# EXP's confirmation is EXP-confirm unless --name says otherwise (the analysis looks there)
from analysis.confirmed import DEFAULT_SUFFIX as SUFFIX  # noqa: E402


@dataclass(frozen=True)
class Run:
    """One re-run: the trial it confirms, its seed and its complete config."""

    trial: str
    seed: int
    config: dict[str, Any]


@dataclass(frozen=True)
class Plan:
    selection: str  # one of SELECTIONS
    trials: tuple[str, ...]  # the confirmed trials, in the order they are run
    seeds_per_trial: int
    full_eval: bool
    runs: tuple[Run, ...]

    def record(self, source: str) -> dict[str, Any]:
        """The ``confirms`` field of the confirmation's experiment.json."""
        return {"experiment": source, "selection": self.selection, "trials": list(self.trials),
                "seeds_per_trial": self.seeds_per_trial, "full_eval": self.full_eval,
                "runs": [{"trial": r.trial, "seed": r.seed,
                          S.TARGET_SPARSITY: r.config.get(S.TARGET_SPARSITY)}
                         for r in self.runs]}


def check_seeds(seeds: int) -> int:
    if not isinstance(seeds, int) or isinstance(seeds, bool) or seeds < 1:
        raise UsageError(f"--seeds must be a whole number >= 1 (new seeds per confirmed "
                         f"trial; 3 or more for a 95% interval that means something), but got "
                         f"{seeds!r}")
    return seeds


def final_rows(rows: Any) -> Any:
    """One decisive row per trial (:func:`analysis.fronts.decisive_rows`), completed ones."""
    from analysis.fronts import decisive_rows

    if not len(rows):
        return rows
    decisive = decisive_rows(rows)
    final = decisive[decisive[S.IS_FINAL].fillna(False).astype(bool)]
    return final[final[S.STATUS] == S.STATUS_COMPLETED]


def select_trials(rows: Any, record: Mapping[str, Any], selection: str,
                  value: Any = None) -> list[str]:
    """Trial ids of the experiment chosen by ``selection`` (see :data:`SELECTIONS`).

    front: every non-dominated trial of the experiment's objectives (collapsed trials left
    out, as the fronts leave them out); knee: the knee of each front; targets: per target
    sparsity, the trial ``analysis table`` shows (the best score within 0.01 of it);
    trials: the trials named (a unique prefix of an id is enough).
    """
    name = record.get("name", "the experiment")
    finished = final_rows(rows)
    if not len(finished):
        raise UsageError(f"experiment {name} has no completed trial to confirm (run or resume "
                         "it first; `python -m orchestrator status` shows its trials)")
    if selection == "trials":
        return _named_trials(finished, value, name)
    if selection == "targets":
        return _target_trials(finished, value, name)
    from analysis.fronts import IS_KNEE, ON_FRONT, pareto_fronts

    objectives = {m: d for m, d in record.get("objectives") or [[S.WEIGHT_SPARSITY, "max"],
                                                               [S.SCORE, "max"]]}
    fronts = pareto_fronts(finished, objectives)
    column = ON_FRONT if selection == "front" else IS_KNEE
    chosen = fronts.points[fronts.points[column]]
    if chosen.empty:
        collapsed = int(fronts.counts["collapsed"].sum()) if "collapsed" in fronts.counts else 0
        why = (f": all {collapsed} completed trials collapsed to the majority-class score"
               if collapsed else "")
        raise UsageError(f"experiment {name} has no front to confirm{why}; name trials with "
                         "--trials ID,... to re-run them anyway")
    return [str(t) for t in chosen[S.TRIAL_ID]]


def _named_trials(finished: Any, text: Any, name: str) -> list[str]:
    ids = sorted(map(str, finished[S.TRIAL_ID].unique()))
    asked = [p.strip() for p in str(text or "").split(",")]
    if not asked or any(not p for p in asked):
        raise UsageError(f"--trials {text!r}: expected comma-separated trial ids (no empty "
                         "entries), e.g. --trials 3f2a1_00000,3f2a1_00004")
    chosen = []
    for prefix in asked:
        matches = [t for t in ids if t.startswith(prefix)]
        if len(matches) != 1:
            what = "no completed trial" if not matches else f"{len(matches)} trials"
            listing = ", ".join(ids[:12]) + (" ..." if len(ids) > 12 else "")
            raise UsageError(f"--trials {prefix}: {what} of {name} has that id or prefix "
                             f"(completed trials: {listing})")
        if matches[0] not in chosen:
            chosen.append(matches[0])
    return chosen


def _target_trials(finished: Any, text: Any, name: str) -> list[str]:
    from analysis.errors import AnalysisError
    from analysis.target_table import DEFAULT_TOLERANCE, parse_targets, target_table

    try:
        targets = parse_targets(text)
    except AnalysisError as exc:
        raise UsageError(str(exc)) from None
    table = target_table(finished, targets, DEFAULT_TOLERANCE)
    empty = [t for t in targets if table[(table["target"] == t)
                                         & table["trial_id"].notna()].empty]
    if empty:
        raise UsageError(f"--targets: no completed trial of {name} landed within "
                         f"{DEFAULT_TOLERANCE:g} of {', '.join(f'{t:g}' for t in empty)} "
                         "(`python -m analysis table` shows where trials landed)")
    return list(dict.fromkeys(str(t) for t in table["trial_id"].dropna()))


def new_seeds(used: Sequence[Any], count: int) -> list[int]:
    """``count`` seeds none of the experiment's trials used: the next ones after the largest
    it used (deterministic, so a plan is the same plan when built again)."""
    taken = {int(s) for s in used if s is not None and not _nan(s)}
    start = max(taken, default=0) + 1
    return list(range(start, start + count))


def trial_config(row: Mapping[str, Any], settings: Mapping[str, Any],
                 parameters: Mapping[str, Any], trainable: str, seed: int,
                 full_eval: bool) -> dict[str, Any]:
    """The complete config that re-runs ``row``'s trial with ``seed`` (``parameters``: the
    space's :class:`search_spaces.Suggestion` of each parameter, by name)."""
    from orchestrator.target_plan import method_of

    config = dict(settings)
    for name, suggestion in parameters.items():
        value = _as_suggested(_native(row.get(S.param_column(name))), suggestion)
        if value is None:
            if name in config:  # pinned by the profile or --set, and recorded as such
                continue
            raise UsageError(f"trial {row.get(S.TRIAL_ID)} has no recorded value for parameter "
                             f"{name!r} (column {S.param_column(name)}), so it cannot be "
                             "re-run as it ran")
        config[name] = value
    config["seed"] = seed
    if full_eval:
        config["max_eval_examples"] = None  # the trainables' "the whole evaluation split"
    target = _native(row.get(S.TARGET_SPARSITY))
    if target is not None:  # an aimed trial: keep its target and how it was steered
        config[S.TARGET_SPARSITY] = target
        config[S.PREDICTED_SPARSITY] = _native(row.get(S.PREDICTED_SPARSITY))
        if method_of(config, trainable) == "soft" and config.get("lambda_control", True):
            config["lambda_control"] = True
            config["lambda_control_target"] = target
    return config


def _as_suggested(value: Any, suggestion: Any) -> Any:
    """A value read back from Parquet in the type the space suggests it: an int parameter
    read from a column with nulls comes back as a float, a categorical choice as text."""
    if value is None or suggestion is None:
        return value
    if suggestion.kind == "int" and isinstance(value, float) and value.is_integer():
        return int(value)
    if suggestion.kind == "categorical" and value not in suggestion.choices:
        return next((c for c in suggestion.choices if str(c) == str(value)), value)
    return value


def check_configs(trainable: str, runs: Sequence[Run]) -> None:
    """Each run's config builds the trainable's config (the space may have changed since)."""
    from trainables import config_class
    from trainables.config import ConfigError, from_mapping
    from facts.columns import SWEEP_ONLY_KEYS

    cls = config_class(trainable)
    for run in runs:
        try:
            from_mapping(cls, {k: v for k, v in run.config.items() if k not in SWEEP_ONLY_KEYS})
        except ConfigError as exc:
            raise UsageError(f"trial {run.trial} cannot be re-run with today's {trainable} "
                             f"trainable: {exc}") from None


def plan_confirmation(rows: Any, record: Mapping[str, Any], parameters: Mapping[str, Any], *,
                      selection: str, value: Any = None, seeds: int,
                      full_eval: bool = False) -> Plan:
    """The runs of a confirmation of the experiment whose rows and experiment.json are given.

    ``parameters``: every parameter of the experiment's space (searched and pinned), name ->
    :class:`search_spaces.Suggestion` (``SearchSpace.suggestions()``).
    """
    check_seeds(seeds)
    if selection not in SELECTIONS:
        raise UsageError(f"selection {selection!r} is not one of {', '.join(SELECTIONS)}")
    if record.get("confirms"):
        source = record["confirms"].get("experiment") if isinstance(record["confirms"], dict) \
            else None
        raise UsageError(f"experiment {record.get('name')} is itself a confirmation (of "
                         f"{source}); confirm {source} instead")
    trials = select_trials(rows, record, selection, value)
    finished = final_rows(rows).drop_duplicates(S.TRIAL_ID, keep="last").set_index(S.TRIAL_ID,
                                                                                   drop=False)
    used = list(rows[S.SEED].dropna()) if S.SEED in rows else []
    settings = record.get("settings") or {}
    all_seeds = iter(new_seeds([*used, settings.get("seed")], len(trials) * seeds))
    runs = tuple(Run(trial, seed, trial_config(finished.loc[trial].to_dict(), settings,
                                               parameters, str(record.get("trainable")), seed,
                                               full_eval))
                 for trial in trials for seed in [next(all_seeds) for _ in range(seeds)])
    check_configs(str(record.get("trainable")), runs)
    return Plan(selection, tuple(trials), seeds, full_eval, runs)


def _native(value: Any) -> Any:
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if _nan(value):
        return None
    return value


def _nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)
