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


#: Config keys the orchestrator fills in itself: a ``--set`` of one was silently replaced.
#: Each maps to the option that sets it.
INTERNAL_KEYS = {"storage_root": "--artifacts-dir"}


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
        if key.strip() in INTERNAL_KEYS:
            raise UsageError(f"--set {key.strip()}: {key.strip()} is set by the orchestrator, "
                             f"not by --set; use {INTERNAL_KEYS[key.strip()]}")
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
    # --data-dir and --set data_dir=... are one setting with one check: a data_dir given
    # either way must exist, and it means real data (a --set data_dir used to leave a
    # profile's synthetic_data on, so the sweep trained on generated examples without a word).
    flag = "--data-dir"
    if data_dir is None and overrides.get("data_dir") is not None:
        data_dir, flag = str(overrides["data_dir"]), "--set data_dir"
    if data_dir is not None:
        from orchestrator.storage import local_folder

        # empty and URIs refused with credentials redacted (trials read data with open())
        path = local_folder(flag, str(data_dir))
        if not path.is_dir():
            raise UsageError(f"{flag} {data_dir}: no such directory ({path})")
        if overrides.get("synthetic_data") is True:
            raise UsageError(f"{flag} {data_dir} with --set synthetic_data=true: generated "
                             "examples would replace the data; drop one of the two")
        overrides["data_dir"] = str(path)
        overrides["synthetic_data"] = False
    if storage_root is not None:
        check_folder_path(Path(storage_root))
        overrides["storage_root"] = str(storage_root)
    sweep = SweepSettings(space, profile, overrides)
    validate_settings(sweep, aimed=aimed)
    return sweep


def check_folder_path(path: Path) -> None:
    """The artifacts folder (``--artifacts-dir``) can be a folder: neither it nor a parent is
    a file. Trials create it on first use, so a file there failed inside every trial."""
    for part in (path, *path.parents):
        if part.exists():
            if not part.is_dir():
                raise UsageError(f"the artifacts folder {path} cannot be created: {part} is "
                                 "a file, not a folder (choose another with --artifacts-dir)")
            return


def validate_settings(sweep: SweepSettings, aimed: bool = False) -> None:
    """Build the trainable's config once, with each searched value at the low end."""
    from trainables import config_class
    from trainables.config import ConfigError, from_mapping

    trial: dict[str, Any] = dict(sweep.settings)
    for name, suggestion in sweep.space.suggestions().items():
        if name not in trial:
            trial[name] = suggestion.low if suggestion.kind != "categorical" \
                else suggestion.choices[0]
    if aimed and sweep.space.trainable == "cap" and trial.get("pruning_method") == "soft" \
            and trial.get("lambda_control", True) and trial.get("lambda_control_target") is None:
        # --targets steers soft trials with the controller by default, each to its own target
        trial["lambda_control"] = True
        trial["lambda_control_target"] = 0.5
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
