"""Profiles scale a space: the published setting, a small real run, an offline demo, a test.

- ``paper``: the published setting (bert-base-uncased, the full GLUE task, the scripts'
  epochs and batch sizes). Needs GPUs and the hub (or ``--data-dir`` and ``--model``).
- ``dev``: a small real run that fits one GPU or a CPU: the pre-trained MiniLM-L6, a subset
  of the task, short sequences, bf16 autocast.
- ``demo``: runs offline on a fresh machine in minutes: MiniLM on generated examples shaped
  like the task (or the real task when ``--data-dir`` is given).
- ``smoke``: a tiny random BERT on a handful of generated examples; for tests.

A space adds its own overlay per profile on top of these common settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class Profile:
    """One profile: its default number of trials and the settings it gives every space.

    Whether a profile generates its data is one of its settings (``synthetic_data``), so
    ``--data-dir`` (which sets it to false) and ``--set`` override it like any other.
    """

    name: str
    description: str
    num_samples: int  # default number of trials
    settings: MappingProxyType


def _profile(name: str, description: str, num_samples: int, **settings: Any) -> Profile:
    return Profile(name, description, num_samples, MappingProxyType(settings))


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        _profile("paper", "the published setting: bert-base-uncased, full task, GPU", 32,
                 model="bert-base-uncased", max_seq_length=128, train_batch_size=32,
                 eval_batch_size=64),
        _profile("dev", "small real run: MiniLM-L6, task subset, length 64, bf16", 12,
                 model="minilm", max_seq_length=64, train_batch_size=32, eval_batch_size=128,
                 max_train_examples=8000, max_eval_examples=1000, bf16=True),
        _profile("demo", "offline demo: MiniLM-L6 on generated data, minutes on a CPU", 4,
                 model="minilm", synthetic_data=True, max_seq_length=32,
                 train_batch_size=32, eval_batch_size=128, max_train_examples=384,
                 max_eval_examples=256, bf16=True),
        _profile("smoke", "tests: tiny random BERT on a handful of generated examples", 2,
                 model="tiny", synthetic_data=True, max_seq_length=32,
                 train_batch_size=8, eval_batch_size=32, max_train_examples=32,
                 max_eval_examples=16, max_steps=4, eval_every=2, measure_latency=False),
    )
}


class UnknownProfileError(ValueError):
    pass


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name, list(PROFILES), n=1, cutoff=0.5)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UnknownProfileError(
            f"unknown profile {name!r}{hint}; valid: {', '.join(PROFILES)}") from None


def profile_settings(profile: str) -> dict[str, Any]:
    """The common settings of ``profile`` (the same for every trainable)."""
    return dict(get_profile(profile).settings)
