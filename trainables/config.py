"""Trainable configurations: typed, validated once, unknown keys refused.

A trial's config is a flat mapping (what Optuna and ``--set`` produce). Each trainable owns a
frozen dataclass; :func:`from_mapping` turns the mapping into it, naming any unknown key with a
did-you-mean and any ill-typed value with the expected type. This module imports neither torch
nor transformers, so the orchestrator can validate ``--set`` before anything heavy starts.

Example:
    >>> cfg = from_mapping(TrainConfig, {"task": "sst2", "learning_rate": 3e-5})
    >>> cfg.learning_rate
    3e-05
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

C = TypeVar("C")


class ConfigError(ValueError):
    """A trial config has an unknown key or a value of the wrong type or range."""


@dataclass(frozen=True)
class TrainConfig:
    """Settings every trainable shares (data, model, optimisation, runtime)."""

    # what to train on
    task: str = "sst2"
    model: str = "bert-base-uncased"
    data_dir: str | None = None  # None: the hub (or generated data when synthetic_data)
    synthetic_data: bool = False  # generated examples shaped like the task
    max_train_examples: int | None = None  # deterministic subset of the training set
    max_eval_examples: int | None = None
    subset_seed: int = 0
    max_seq_length: int = 128
    # optimisation (torch AdamW with explicit weight decay; linear warm-up then decay)
    train_batch_size: int = 32
    eval_batch_size: int = 64
    learning_rate: float = 2e-5
    weight_decay: float = 0.0
    adam_epsilon: float = 1e-8
    max_grad_norm: float = 1.0
    num_train_epochs: float = 3.0
    max_steps: int = 0  # > 0 overrides num_train_epochs
    warmup_steps: int = 0
    warmup_ratio: float = 0.0  # used when warmup_steps is 0
    eval_every: int = 0  # optimizer steps between evaluations; 0 = once per epoch
    seed: int = 42
    # runtime
    bf16: bool = False  # bf16 autocast (CPU and CUDA)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    num_threads: int = 0  # torch intra-op threads; 0 = leave as is (the adapter sets it)
    trim_padding: bool = True  # cut each batch to its longest sequence (same results, faster)
    measure_latency: bool = True  # time the final model's forward pass
    storage_root: str | None = None  # where shared artifacts (tokenised data, ...) live

    def __post_init__(self) -> None:
        _check(self.max_seq_length >= 8, "max_seq_length", self.max_seq_length, ">= 8")
        _check(self.train_batch_size >= 1, "train_batch_size", self.train_batch_size, ">= 1")
        _check(self.eval_batch_size >= 1, "eval_batch_size", self.eval_batch_size, ">= 1")
        _check(self.learning_rate > 0, "learning_rate", self.learning_rate, "> 0")
        _check(self.weight_decay >= 0, "weight_decay", self.weight_decay, ">= 0")
        _check(self.max_grad_norm > 0, "max_grad_norm", self.max_grad_norm, "> 0")
        _check(self.num_train_epochs > 0, "num_train_epochs", self.num_train_epochs, "> 0")
        _check(self.max_steps >= 0, "max_steps", self.max_steps, ">= 0")
        _check(self.warmup_steps >= 0, "warmup_steps", self.warmup_steps, ">= 0")
        _check(0 <= self.warmup_ratio < 1, "warmup_ratio", self.warmup_ratio, "in [0, 1)")
        _check(self.eval_every >= 0, "eval_every", self.eval_every, ">= 0")
        _check(self.num_threads >= 0, "num_threads", self.num_threads, ">= 0")
        for key in ("max_train_examples", "max_eval_examples"):
            value = getattr(self, key)
            _check(value is None or value >= 1, key, value, "None or >= 1")
        ok_device = self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")
        _check(ok_device, "device", self.device, "one of auto, cpu, cuda, cuda:N")


@dataclass(frozen=True)
class DenseConfig(TrainConfig):
    """The dense fine-tune: the baseline point on every front and CAP's teacher."""


def _check(ok: bool, key: str, value: Any, rule: str) -> None:
    if not ok:
        raise ConfigError(f"`{key}` must be {rule}, but got {value!r}")


def field_types(cls: type) -> dict[str, Any]:
    """The resolved type of every field of config class ``cls``."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def _allowed(tp: Any) -> tuple[tuple[type, ...], bool]:
    """(accepted scalar types, whether None is accepted) for a field annotation."""
    nullable = False
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        args = typing.get_args(tp)
        nullable = type(None) in args
        (tp,) = [a for a in args if a is not type(None)]
    return (tp,), nullable


def _type_ok(value: Any, tp: Any) -> bool:
    (scalar,), nullable = _allowed(tp)
    if value is None:
        return nullable
    if scalar is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if scalar is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, scalar)


def unknown_key_error(key: str, valid: list[str], what: str) -> ConfigError:
    close = difflib.get_close_matches(key, valid, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return ConfigError(f"unknown {what} key {key!r}{hint} Valid keys: {', '.join(sorted(valid))}")


def from_mapping(cls: type[C], config: Mapping[str, Any]) -> C:
    """Build config class ``cls`` from a flat mapping; unknown keys and bad types raise."""
    types_ = field_types(cls)
    for key, value in config.items():
        if key not in types_:
            raise unknown_key_error(key, list(types_), f"{cls.__name__}")
        if not _type_ok(value, types_[key]):
            (scalar,), nullable = _allowed(types_[key])
            expected = scalar.__name__ + (" or None" if nullable else "")
            raise ConfigError(
                f"`{key}` must be {expected}, but got {value!r} ({type(value).__name__})"
            )
        if isinstance(value, float) and not math.isfinite(value):
            # inf/nan pass every `> 0` check and then hang or poison a trial (an infinite
            # number of epochs, a NaN learning rate): no setting has a use for them.
            raise ConfigError(f"`{key}` must be a finite number, but got {value!r}")
    values = {k: (float(v) if _allowed(types_[k])[0][0] is float and v is not None else v)
              for k, v in config.items()}
    return cls(**values)


def parse_value(cls: type, key: str, text: str) -> Any:
    """Parse the text of ``--set key=text`` into the type config ``cls`` declares for ``key``."""
    types_ = field_types(cls)
    if key not in types_:
        raise unknown_key_error(key, list(types_), f"{cls.__name__}")
    (scalar,), nullable = _allowed(types_[key])
    if nullable and text.strip().lower() in ("none", "null"):
        return None
    try:
        if scalar is bool:
            lowered = text.strip().lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(text)
            return lowered in ("true", "1", "yes")
        if scalar is int:
            return int(text)
        if scalar is float:
            value = float(text)
    except ValueError:
        raise ConfigError(
            f"`{key}` must be {scalar.__name__}" + (" or none" if nullable else "")
            + f", but got {text!r}"
        ) from None
    if scalar is float:
        if not math.isfinite(value):
            raise ConfigError(f"`{key}` must be a finite number, but got {text!r}")
        return value
    return text


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)
