"""SmpConfig's meta_* settings are MetaTrainConfig's: same defaults, same rules, same key."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest
import torch

from trainables.artifacts import artifact_key
from trainables.config import ConfigError
from trainables.config import from_mapping
from trainables.smp.artifacts import meta_train_config
from trainables.smp.artifacts import pruner_inputs
from trainables.smp.config import SmpConfig
from trainables.smp.meta_config import META_FIELDS
from trainables.smp.meta_config import MetaTrainConfig
from trainables.tasks import get_task


def test_meta_defaults_are_meta_trainings():
    assert meta_train_config(SmpConfig()) == dataclasses.replace(MetaTrainConfig(), ndf=8)
    smp = {f.name for f in dataclasses.fields(SmpConfig)}
    meta = {f.name for f in dataclasses.fields(MetaTrainConfig)}
    assert set(META_FIELDS) <= smp and set(META_FIELDS.values()) <= meta


@pytest.mark.parametrize("key, value, rule", [
    ("meta_updates", 0, ">= 1"), ("meta_batch_size", 0, ">= 1"),
    ("meta_learning_rate", 0.0, "> 0"), ("meta_pair_representation", "cls", "one of")])
def test_meta_rules_name_the_trial_setting(key, value, rule):
    with pytest.raises(ConfigError, match=f"`{key}` must be {rule}"):
        from_mapping(SmpConfig, {key: value})


def test_the_pruner_artifact_key_is_unchanged():
    """Pinned on the code before meta_* had one owner: existing pruners stay valid."""
    meta = {"sst2": SimpleNamespace(fingerprint="abc", train={"input_ids": torch.zeros(5, 3)},
                                    task=get_task("sst2"))}
    configs = (SmpConfig(model="tiny"), SmpConfig(
        model="tiny", meta_updates=2, meta_batch_size=4, meta_accumulation=1,
        meta_learning_rate=0.1, meta_seed=3, meta_pair_representation="mean"))
    keys = [artifact_key(pruner_inputs(cfg, meta)) for cfg in configs]
    assert keys == ["69a3cf493981d1e1", "de93218aedd046a3"]
