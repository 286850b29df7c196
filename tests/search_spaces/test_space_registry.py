"""Contract tests over the whole space registry (style.md guideline 13)."""

from __future__ import annotations

import pickle
import sys

import optuna
import pytest

import search_spaces
from search_spaces import PROFILES, SearchSpace, SpaceError
from trainables import config_class
from trainables.config import from_mapping


@pytest.mark.parametrize("name", search_spaces.space_names())
@pytest.mark.parametrize("profile", list(PROFILES))
def test_every_space_samples_valid_configs(name, profile):
    space = search_spaces.get_space(name)
    define = space.define_by_run(profile)
    study = optuna.create_study(directions=["maximize"] * len(space.objectives))
    for _ in range(3):
        trial = study.ask()
        constants = define(trial)
        config = {**trial.params, **constants}
        from_mapping(config_class(space.trainable), config)  # raises on any bad key/type
    pickle.loads(pickle.dumps(define))  # Tune pickles the searcher with its space


def test_pins_from_overrides_are_not_searched():
    space = search_spaces.get_space("dense_sst2")
    define = space.define_by_run("smoke", {"learning_rate": 5e-5})
    trial = optuna.create_study().ask()
    config = define(trial)
    assert config["learning_rate"] == 5e-5
    assert "learning_rate" not in trial.params
    assert "learning_rate" not in space.free_parameters("smoke", {"learning_rate": 5e-5})


def test_unknown_space_lists_valid_names_with_did_you_mean():
    with pytest.raises(search_spaces.UnknownSpaceError, match=r"Did you mean dense_sst2"):
        search_spaces.get_space("dense_sst")


def test_space_validation():
    with pytest.raises(SpaceError, match="mode 'up'"):
        SearchSpace("bad", "dense", "d", lambda t: None, (("score", "up"),))
    with pytest.raises(SpaceError, match="both fixes and searches"):
        SearchSpace("bad", "dense", "d", lambda t: {"x": t.suggest_float("lr", 0, 1)},
                    (("score", "max"),), fixed={"lr": 1.0})


def test_importing_spaces_stays_light():
    import subprocess

    code = ("import sys, search_spaces; "
            "print(' '.join(m for m in ('torch', 'ray', 'transformers') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
