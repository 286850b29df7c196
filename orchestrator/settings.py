"""From a space, a profile and the command line to validated trial settings.

Everything a trial will see is checked here, in the driver, before Ray starts: ``--set`` keys
and types against the trainable's config class, the merged settings by building that config
once with every searched parameter at the low end of its range, paths made absolute.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator.errors import UsageError
from search_spaces import Profile, SearchSpace, UnknownSpaceError, get_profile, get_space


@dataclass(frozen=True)
class SweepSettings:
    """What every trial of a sweep shares; the searched values come from Optuna.

    ``settings`` (the space's fixed settings, the profile's, then ``overrides``) is merged
    once, when the sweep's settings are built, and ``searched`` follows from it.
    """

    space: SearchSpace
    profile: str
    overrides: dict[str, Any]  # --set, --model, --data-dir and storage_root, typed
    settings: dict[str, Any] = field(init=False)  # shared by every reader: never mutate it
    searched: tuple[str, ...] = field(init=False)  # parameters Optuna chooses (pins removed)
    num_samples: int = field(init=False)  # the profile's default number of trials

    def __post_init__(self) -> None:
        profile = known_profile(self.profile)
        settings = self.space.settings(self.profile, self.overrides)
        object.__setattr__(self, "settings", settings)
        object.__setattr__(self, "searched", self.space.unpinned(settings))
        object.__setattr__(self, "num_samples", profile.num_samples)


def known_profile(name: str) -> Profile:
    """The profile ``name``; an unknown one is a usage error with a did-you-mean."""
    try:
        return get_profile(name)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def space_named(name: str) -> SearchSpace:
    """The registered space ``name``; an unknown one is a usage error with a did-you-mean."""
    try:
        return get_space(name)
    except UnknownSpaceError as exc:
        raise UsageError(str(exc)) from None


def parse_sets(trainable: str, pairs: Sequence[str]) -> dict[str, Any]:
    """``["lr=3e-5", "bf16=true"]`` -> typed values, checked against the trainable's config."""
    from trainables import config_class
    from trainables.config import ConfigError, parse_value

    cls = config_class(trainable)
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set expects key=value, but got {pair!r}")
        try:
            values[key.strip()] = parse_value(cls, key.strip(), text.strip())
        except ConfigError as exc:
            raise UsageError(f"--set {pair}: {exc}") from None
    return values


def build_settings(
    space: SearchSpace,
    profile: str,
    *,
    sets: Sequence[str] = (),
    model: str | None = None,
    data_dir: str | None = None,
    storage_root: Path | None = None,
    aimed: bool = False,
) -> SweepSettings:
    """``aimed``: the sweep runs with ``--targets`` (which sets each trial's target)."""
    known_profile(profile)  # before --set: an unknown profile is named first
    overrides = parse_sets(space.trainable, sets)
    if model is not None:
        overrides["model"] = model
    if data_dir is not None:
        path = Path(data_dir).expanduser().resolve()
        if not path.is_dir():
            raise UsageError(f"--data-dir {data_dir}: no such directory ({path})")
        overrides["data_dir"] = str(path)
        overrides.setdefault("synthetic_data", False)
    if storage_root is not None:
        overrides["storage_root"] = str(storage_root)
    sweep = SweepSettings(space, profile, overrides)
    validate_settings(sweep, aimed=aimed)
    return sweep


def validate_settings(sweep: SweepSettings, aimed: bool = False) -> None:
    """Build the trainable's config once, with each searched value at the low end."""
    from trainables import config_class
    from trainables.config import ConfigError, from_mapping

    trial: dict[str, Any] = dict(sweep.settings)
    for name, suggestion in sweep.space.suggestions().items():
        if name not in trial:
            trial[name] = suggestion.low if suggestion.kind != "categorical" \
                else suggestion.choices[0]
    if aimed and trial.get("lambda_control") and trial.get("lambda_control_target") is None:
        trial["lambda_control_target"] = 0.5  # --targets gives each trial its own
    try:
        from_mapping(config_class(sweep.space.trainable), trial)
    except ConfigError as exc:
        raise UsageError(f"space {sweep.space.name!r} with profile {sweep.profile!r}: "
                         f"{exc}") from None


def describe(sweep: SweepSettings) -> Mapping[str, Any]:
    """A JSON-able record of the sweep for experiment.json."""
    space = sweep.space
    return {"space": space.name, "trainable": space.trainable, "profile": sweep.profile,
            "overrides": sweep.overrides, "searched": list(sweep.searched),
            "objectives": [list(o) for o in space.objectives],
            "settings": dict(sweep.settings)}
