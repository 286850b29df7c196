"""``list-spaces`` and ``show-space NAME``: what the named search spaces are."""

from __future__ import annotations

import argparse

from orchestrator.settings import build_settings, space_named


def list_spaces(args: argparse.Namespace) -> int:
    import search_spaces

    for name in search_spaces.space_names():
        space = search_spaces.get_space(name)
        print(f"{name:<22} {space.trainable:<6} {space.default_sampler:<6} {space.description}")
    return 0


def show_space(args: argparse.Namespace) -> int:
    space = space_named(args.name)
    sweep = build_settings(space, args.profile)
    print(f"space      {space.name}  (trainable {space.trainable})")
    print(f"           {space.description}")
    print("objectives " + ", ".join(f"{m} ({mode})" for m, mode in space.objectives))
    print(f"sampler    {space.default_sampler}, early stopping "
          f"{'on' if space.default_early_stop else 'off'} (launch's defaults for this space)")
    print(f"profile    {args.profile}")
    print("searched")
    for suggestion in space.suggestions().values():
        pinned = "" if suggestion.name in sweep.searched else "  [pinned by profile]"
        print(f"  {suggestion.describe()}{pinned}")
    print("settings")
    for key, value in sorted(sweep.settings.items()):
        print(f"  {key} = {value!r}")
    return 0
