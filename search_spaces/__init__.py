"""Named search spaces: define-by-run functions plus objectives and profiles.

``import search_spaces`` never imports torch or Ray.

Example:
    >>> import search_spaces
    >>> space = search_spaces.get_space("dense_sst2")
    >>> space.trainable, space.metrics
    ('dense', ['score'])
"""

from __future__ import annotations

import difflib

from search_spaces.calibrate import calibrate_space
from search_spaces.cap import cap_spaces
from search_spaces.dense import dense_spaces
from search_spaces.profiles import PROFILES, Profile, UnknownProfileError, get_profile
from search_spaces.smp import smp_spaces
from search_spaces.space import DefineByRun, SearchSpace, SpaceError, Suggestion

SPACES: dict[str, SearchSpace] = {}


class UnknownSpaceError(ValueError):
    pass


def register(space: SearchSpace) -> SearchSpace:
    if space.name in SPACES:
        raise SpaceError(f"space {space.name!r} is registered twice")
    SPACES[space.name] = space
    return space


def space_names() -> list[str]:
    return sorted(SPACES)


def get_space(name: str) -> SearchSpace:
    """The space called ``name``; an unknown name lists the valid ones with a did-you-mean."""
    try:
        return SPACES[name]
    except KeyError:
        close = difflib.get_close_matches(name, SPACES, n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise UnknownSpaceError(
            f"unknown space {name!r}.{hint} Valid spaces: {', '.join(space_names())}"
        ) from None


for _space in [*dense_spaces(), *smp_spaces(), *cap_spaces(), calibrate_space()]:
    register(_space)

__all__ = [
    "PROFILES",
    "SPACES",
    "DefineByRun",
    "Profile",
    "SearchSpace",
    "SpaceError",
    "Suggestion",
    "UnknownProfileError",
    "UnknownSpaceError",
    "get_profile",
    "get_space",
    "register",
    "space_names",
]
