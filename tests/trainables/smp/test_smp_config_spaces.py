"""``SmpConfig`` validation and the ``smp_<task>`` search spaces (no torch needed)."""

from __future__ import annotations

import pickle
import subprocess
import sys

import optuna
import pytest

import search_spaces
from search_spaces import PROFILES
from search_spaces.tasks import GLUE_TASKS
from trainables import config_class
from trainables.config import ConfigError
from trainables.config import from_mapping
from trainables.config import parse_value
from trainables.smp.config import SmpConfig


def test_defaults_are_the_originals():
    cfg = SmpConfig()
    assert (cfg.prune_ratio, cfg.allocation, cfg.mask_exact_count) == (0.5, "per_layer", False)
    assert (cfg.meta_updates, cfg.meta_batch_size, cfg.meta_accumulation) == (8000, 60, 8)
    assert (cfg.meta_learning_rate, cfg.meta_seed, cfg.mask_batch_size) == (2e-2, 42, 8)
    assert cfg.meta_task_names() == ("mnli", "qqp", "sst2", "cola", "stsb", "mrpc", "rte")
    assert config_class("smp") is SmpConfig


@pytest.mark.parametrize("values, message", [
    ({"prune_ratio": 1.0}, r"`prune_ratio` must be in \[0, 1\).*got 1.0"),
    ({"prune_ratio": -0.2}, r"`prune_ratio` must be in \[0, 1\).*got -0.2"),
    ({"allocation": "layerwise"}, "`allocation` must be one of per_layer, global"),
    ({"meta_tasks": "sst2,sts"}, "`meta_tasks`: unknown task 'sts'"),
    ({"meta_tasks": " , "}, "`meta_tasks` must be a comma-separated list"),
    ({"meta_tasks": "SST-2,sst2"}, "without duplicates"),
    ({"meta_max_examples_per_task": 30}, r"None or >= meta_batch_size \(60\), but got 30"),
    ({"meta_updates": 0}, "`meta_updates` must be >= 1"),
    ({"mask_max_examples": 0}, "`mask_max_examples` must be None or >= 1"),
    ({"meta_learning_rate": 0.0}, "`meta_learning_rate` must be > 0"),
    ({"prune_ratio": "0.5"}, "`prune_ratio` must be float"),
    ({"prune_raito": 0.5}, "did you mean 'prune_ratio'"),
])
def test_bad_values_name_value_and_rule(values, message):
    with pytest.raises(ConfigError, match=message):
        from_mapping(SmpConfig, values)


def test_set_values_parse_to_the_declared_types():
    assert parse_value(SmpConfig, "pruner_path", "none") is None
    assert parse_value(SmpConfig, "mask_exact_count", "true") is True
    assert parse_value(SmpConfig, "meta_updates", "50") == 50


def test_config_and_spaces_import_no_torch():
    code = ("import sys\nfrom trainables import config_class\nimport search_spaces\n"
            "config_class('smp')\nsearch_spaces.get_space('smp_sst2').define_by_run('paper')\n"
            "print([m for m in ('torch', 'transformers', 'ray') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_eight_tasks_with_two_objectives():
    names = [f"smp_{task}" for task in GLUE_TASKS]
    assert set(names) <= set(search_spaces.space_names()) and len(names) == 8
    for name in names:
        space = search_spaces.get_space(name)
        assert space.trainable == "smp"
        assert space.objectives == (("score", "max"), ("weight_sparsity", "max"))
        suggestions = space.suggestions()
        assert (suggestions["prune_ratio"].low, suggestions["prune_ratio"].high) == (0.1, 0.9)
        assert suggestions["allocation"].choices == ("per_layer", "global")
        assert suggestions["learning_rate"].log


@pytest.mark.parametrize("profile", list(PROFILES))
def test_every_profile_samples_valid_configs(profile):
    space = search_spaces.get_space("smp_mrpc")
    define = space.define_by_run(profile)
    study = optuna.create_study(directions=["maximize", "maximize"])
    for _ in range(4):
        trial = study.ask()
        cfg = from_mapping(SmpConfig, {**trial.params, **define(trial)})
        assert cfg.task == "mrpc" and 0.1 <= cfg.prune_ratio <= 0.9
    pickle.loads(pickle.dumps(define))  # Tune pickles the searcher with its space


def test_profiles_scale_meta_training():
    settings = {p: search_spaces.get_space("smp_sst2").settings(p) for p in PROFILES}
    assert settings["paper"]["num_train_epochs"] == 10
    assert settings["paper"]["train_batch_size"] == 32
    assert settings["paper"]["max_seq_length"] == 128
    assert "meta_updates" not in settings["paper"]  # the original's 8000
    assert settings["dev"]["model"] == "minilm"
    assert settings["dev"]["meta_tasks"] == "sst2,cola,mrpc,qqp,mnli"
    for profile in ("demo", "smoke"):
        assert settings[profile]["mask_exact_count"] is True
        assert settings[profile]["meta_updates"] <= 5
    assert settings["smoke"]["allocation"] == "per_layer"
    assert "allocation" not in search_spaces.get_space("smp_sst2").free_parameters("smoke")
