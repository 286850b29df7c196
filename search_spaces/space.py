"""The ``SearchSpace`` type: a define-by-run function plus its recipe and objectives.

A space is the seed's recipe: which trainable, the fixed settings, the searched ranges (a
``define(trial)`` that only calls ``trial.suggest_*`` and returns constants), the objectives
and per-profile overlays. Settings given by a profile or by the user's ``--set`` that name a
searched parameter pin it: the define function still runs, but that suggestion returns the
pinned value and is not searched.

Example:
    >>> space = SearchSpace(name="demo", trainable="dense", description="d",
    ...                     define=lambda t: {"lr": t.suggest_float("lr", 1e-5, 1e-4)},
    ...                     objectives=(("score", "max"),))
    >>> space.searched()
    ('lr',)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from search_spaces.profiles import PROFILES, profile_settings

MODES = ("max", "min")
# The Optuna samplers launch can build (orchestrator.launch_options.SAMPLERS imports this:
# search_spaces does not import the orchestrator).
SAMPLER_NAMES = ("tpe", "nsga2", "nsga3", "gp", "random", "qmc")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class SpaceError(ValueError):
    """A search space definition is invalid."""


@dataclass(frozen=True)
class Suggestion:
    """One searched parameter as recorded from the define function."""

    name: str
    kind: str  # float | int | categorical
    low: Any = None
    high: Any = None
    log: bool = False
    choices: tuple[Any, ...] = ()

    def describe(self) -> str:
        if self.kind == "categorical":
            return f"{self.name}: one of {list(self.choices)}"
        scale = " (log)" if self.log else ""
        return f"{self.name}: {self.kind} in [{self.low}, {self.high}]{scale}"


class RecordingTrial:
    """A stand-in for ``optuna.Trial`` that records suggestions and returns their low end."""

    def __init__(self) -> None:
        self.suggestions: dict[str, Suggestion] = {}

    def _record(self, suggestion: Suggestion) -> None:
        if suggestion.name in self.suggestions:
            raise SpaceError(f"parameter {suggestion.name!r} is suggested twice")
        self.suggestions[suggestion.name] = suggestion

    def suggest_float(self, name: str, low: float, high: float, *, step: float | None = None,
                      log: bool = False) -> float:
        if not low <= high:
            raise SpaceError(f"range of {name!r} must have low <= high, but got [{low}, {high}]")
        self._record(Suggestion(name, "float", low, high, log))
        return low

    def suggest_int(self, name: str, low: int, high: int, *, step: int = 1,
                    log: bool = False) -> int:
        if not low <= high:
            raise SpaceError(f"range of {name!r} must have low <= high, but got [{low}, {high}]")
        self._record(Suggestion(name, "int", low, high, log))
        return low

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        if not choices:
            raise SpaceError(f"categorical {name!r} needs at least one choice")
        self._record(Suggestion(name, "categorical", choices=tuple(choices)))
        return choices[0]


class PinnedTrial:
    """Wraps a real trial; suggestions whose name is pinned return the pin instead."""

    def __init__(self, trial: Any, pins: Mapping[str, Any]) -> None:
        self._trial = trial
        self._pins = pins

    def suggest_float(self, name: str, *args: Any, **kwargs: Any) -> float:
        if name in self._pins:
            return self._pins[name]
        return self._trial.suggest_float(name, *args, **kwargs)

    def suggest_int(self, name: str, *args: Any, **kwargs: Any) -> int:
        if name in self._pins:
            return self._pins[name]
        return self._trial.suggest_int(name, *args, **kwargs)

    def suggest_categorical(self, name: str, choices: Sequence[Any]) -> Any:
        if name in self._pins:
            return self._pins[name]
        return self._trial.suggest_categorical(name, choices)


class DefineByRun:
    """The picklable function handed to ``OptunaSearch(space=...)``.

    Returns the constants (every non-searched setting, plus the pins) for Ray to merge with
    the values Optuna suggested.
    """

    def __init__(self, define: Callable[[Any], Mapping[str, Any] | None],
                 constants: Mapping[str, Any], pins: Mapping[str, Any]) -> None:
        self.define = define
        self.constants = dict(constants)
        self.pins = dict(pins)

    def __call__(self, trial: Any) -> dict[str, Any]:
        returned = self.define(PinnedTrial(trial, self.pins)) or {}
        return {**self.constants, **dict(returned), **self.pins}


@dataclass(frozen=True)
class SearchSpace:
    """A named sweep recipe. Validated on construction.

    Args:
        name: registry name, e.g. ``cap_soft_qqp``.
        trainable: the trainable's registry name (``dense``, ``smp``, ``cap``).
        description: one line for ``list-spaces``.
        define: ``define(trial)`` calling only ``trial.suggest_*``; may return constants.
        objectives: ``(metric, "max" | "min")`` pairs, all reported by the trainable.
        fixed: settings common to every profile.
        profiles: per-profile overlays on top of the common profile settings.
        constraints: ``(metric, ">=" | "<=", bound)``; trials violating one are infeasible.
        default_sampler: the sampler ``launch`` uses without ``--sampler``: the winner of
            ``benchmarks/search_efficiency.py`` on this space's recorded table where one was
            measured, else TPE.
        default_early_stop: whether ``launch`` stops dominated trials early without
            ``--early-stop``/``--no-early-stop`` (measured like the sampler; on elsewhere).
    """

    name: str
    trainable: str
    description: str
    define: Callable[[Any], Mapping[str, Any] | None]
    objectives: tuple[tuple[str, str], ...]
    fixed: Mapping[str, Any] = field(default_factory=dict)
    profiles: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    constraints: tuple[tuple[str, str, float], ...] = ()
    calibration: bool = False  # not a model: profiles' model/data settings do not apply
    default_sampler: str = "tpe"
    default_early_stop: bool = True

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise SpaceError(f"space name must match {_NAME.pattern}, but got {self.name!r}")
        if not self.objectives:
            raise SpaceError(f"space {self.name!r} needs at least one objective")
        if self.default_sampler not in SAMPLER_NAMES:
            raise SpaceError(f"default_sampler of space {self.name!r} must be one of "
                             f"{', '.join(SAMPLER_NAMES)}, but got {self.default_sampler!r}")
        for metric, mode in self.objectives:
            if mode not in MODES:
                raise SpaceError(f"objective {metric!r} of space {self.name!r} has mode "
                                 f"{mode!r}; must be one of {MODES}")
        unknown = set(self.profiles) - set(PROFILES)
        if unknown:
            raise SpaceError(f"space {self.name!r} has unknown profiles {sorted(unknown)}; "
                             f"valid: {', '.join(PROFILES)}")
        overlap = set(self.fixed) & set(self.searched())
        if overlap:
            raise SpaceError(f"space {self.name!r} both fixes and searches {sorted(overlap)}")
        for metric, op, _ in self.constraints:
            if op not in (">=", "<="):
                raise SpaceError(f"constraint on {metric!r} must use '>=' or '<=', not {op!r}")
        object.__setattr__(self, "fixed", MappingProxyType(dict(self.fixed)))

    def suggestions(self) -> dict[str, Suggestion]:
        recorder = RecordingTrial()
        returned = self.define(recorder) or {}
        if not isinstance(returned, Mapping):
            raise SpaceError(f"define() of space {self.name!r} must return a mapping or None")
        return recorder.suggestions

    def searched(self) -> tuple[str, ...]:
        return tuple(self.suggestions())

    @property
    def metrics(self) -> list[str]:
        return [metric for metric, _ in self.objectives]

    @property
    def modes(self) -> list[str]:
        return [mode for _, mode in self.objectives]

    def settings(self, profile: str, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Fixed settings, then the profile's, then the user's overrides (pins included)."""
        common = {} if self.calibration else profile_settings(profile)
        return {**common, **self.fixed,
                **self.profiles.get(profile, {}), **(overrides or {})}

    def define_by_run(self, profile: str,
                      overrides: Mapping[str, Any] | None = None) -> DefineByRun:
        return self.define_with(self.settings(profile, overrides))

    def define_with(self, settings: Mapping[str, Any]) -> DefineByRun:
        """The define-by-run function for already merged :meth:`settings`."""
        searched = set(self.searched())
        pins = {k: v for k, v in settings.items() if k in searched}
        constants = {k: v for k, v in settings.items() if k not in searched}
        return DefineByRun(self.define, constants, pins)

    def free_parameters(self, profile: str,
                        overrides: Mapping[str, Any] | None = None) -> tuple[str, ...]:
        """The searched parameters that no profile setting or override pins."""
        return self.unpinned(self.settings(profile, overrides))

    def unpinned(self, settings: Mapping[str, Any]) -> tuple[str, ...]:
        """The searched parameters that already merged :meth:`settings` do not pin."""
        return tuple(name for name in self.searched() if name not in settings)
