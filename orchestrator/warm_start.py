"""``--warm-start EXPERIMENT``: seed a new study with the finished trials of an earlier one.

Only an experiment of the same space qualifies (its parameters mean the same thing). Each
completed trial's searched values and objective values become a COMPLETE trial of the new
study before Tune starts, so the sampler's first proposals already know the landscape.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

from analysis import schema as S
from analysis.layout import INFO_FILE
from orchestrator.errors import UsageError
from orchestrator.experiment import Experiment
from search_spaces import SearchSpace, Suggestion


def locate(storage: str, ref: str) -> tuple[dict[str, Any], str]:
    """(experiment.json, location) of an experiment given by name under the storage root, or
    by its own path or URI."""
    from analysis.io import experiment_info

    if "/" not in ref and "://" not in ref:
        experiment = Experiment.at(storage, ref)
        if experiment.exists():
            return experiment.load(), experiment.uri
        looked = experiment.uri
    else:
        looked = ref
        from analysis.errors import AnalysisError

        try:
            record = experiment_info(ref)
        except AnalysisError as exc:  # an unreachable object store: one line, in seconds
            raise UsageError(f"--warm-start: {exc}") from None
        if record:
            return record, ref
    raise UsageError(f"--warm-start {ref}: no experiment there (looked for "
                     f"{looked}/{INFO_FILE})")


def distribution(suggestion: Suggestion) -> Any:
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if suggestion.kind == "float":
        return FloatDistribution(suggestion.low, suggestion.high, log=suggestion.log)
    if suggestion.kind == "int":
        return IntDistribution(suggestion.low, suggestion.high, log=suggestion.log)
    return CategoricalDistribution(list(suggestion.choices))


def warm_start_trials(source: tuple[dict[str, Any], str], space: SearchSpace,
                      searched: tuple[str, ...]) -> list[Any]:
    """Frozen COMPLETE trials built from the source experiment's final rows."""
    import optuna

    from analysis.errors import AnalysisError
    from analysis.io import read_experiment

    record, location = source
    name = record.get("name", location)
    if record.get("space") != space.name:
        raise UsageError(f"--warm-start {name}: that experiment swept space "
                         f"{record.get('space')!r}, this one sweeps {space.name!r}; only an "
                         "experiment of the same space can seed the study")
    try:
        df = read_experiment(location)
    except AnalysisError as exc:
        raise UsageError(f"--warm-start {name}: {exc}") from None
    final = S.completed_final_rows(df)
    suggestions = space.suggestions()
    dists = {name: distribution(suggestions[name]) for name in searched}
    trials, skipped = [], 0
    for _, row in final.iterrows():
        params = {n: S.plain_value(row.get(S.param_column(n))) for n in searched}
        values = [S.plain_value(row.get(metric)) for metric in space.metrics]
        if any(v is None for v in params.values()) or any(
                v is None or (isinstance(v, float) and math.isnan(v)) for v in values):
            skipped += 1
            continue
        try:
            trials.append(optuna.trial.create_trial(params=params, distributions=dists,
                                                     values=values,
                                                     user_attrs={"warm_start": name}))
        except ValueError:  # a value outside today's range
            skipped += 1
    if skipped:
        warnings.warn(f"--warm-start: {skipped} trials of {name} could not be used "
                      "(missing values or parameters outside this space's ranges)", stacklevel=2)
    return trials
