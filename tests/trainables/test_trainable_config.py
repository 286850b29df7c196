from __future__ import annotations

import pytest

from trainables.config import ConfigError, DenseConfig, TrainConfig, from_mapping, parse_value


def test_unknown_key_is_refused_with_a_suggestion():
    wanted = r"unknown DenseConfig key 'learning_rat'.*'learning_rate'"
    with pytest.raises(ConfigError, match=wanted):
        from_mapping(DenseConfig, {"learning_rat": 1e-5})


def test_ill_typed_value_names_key_and_type():
    with pytest.raises(ConfigError, match=r"`train_batch_size` must be int, but got '32'"):
        from_mapping(DenseConfig, {"train_batch_size": "32"})
    with pytest.raises(ConfigError, match=r"`bf16` must be bool"):
        from_mapping(DenseConfig, {"bf16": 1})


def test_int_is_accepted_for_float_and_range_is_checked():
    assert from_mapping(TrainConfig, {"num_train_epochs": 2}).num_train_epochs == 2.0
    with pytest.raises(ConfigError, match=r"`warmup_ratio` must be in \[0, 1\), but got 1.5"):
        from_mapping(TrainConfig, {"warmup_ratio": 1.5})


@pytest.mark.parametrize("key, text, expected", [
    ("learning_rate", "3e-5", 3e-5), ("max_steps", "10", 10), ("bf16", "true", True),
    ("bf16", "0", False), ("max_train_examples", "none", None), ("task", "qqp", "qqp"),
])
def test_parse_value_types_set_values(key, text, expected):
    assert parse_value(DenseConfig, key, text) == expected


def test_parse_value_rejects_bad_text():
    with pytest.raises(ConfigError, match=r"`max_steps` must be int, but got 'ten'"):
        parse_value(DenseConfig, "max_steps", "ten")
    with pytest.raises(ConfigError, match="unknown DenseConfig key 'nope'"):
        parse_value(DenseConfig, "nope", "1")
