"""``launch --objectives``: replace a space's objectives with metrics every trial reports.

``--objectives score,speedup`` makes the measured inference speed-up (``speedup`` =
``dense_latency_ms / latency_ms`` of the final row, the model in its fastest storage against
the dense model) an objective instead of ``weight_sparsity``; ``score,weight_sparsity,speedup``
searches all three. Only metrics the trainables report are accepted, each with its fixed
direction, and latency metrics need ``measure_latency`` on (the smoke profile switches it off).

Example:
    >>> parse_objectives("score,speedup")
    (('score', 'max'), ('speedup', 'max'))
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterable
from typing import Any

from facts import columns as C
from orchestrator.errors import UsageError

# What every trainable's final row carries, with the direction that is "better".
REPORTED: dict[str, str] = {
    C.SCORE: "max",
    C.WEIGHT_SPARSITY: "max",
    C.HEAD_SPARSITY: "max",
    C.SPEEDUP: "max",  # measured: needs measure_latency
    C.LATENCY_MS: "min",  # measured: needs measure_latency
}
MEASURED = (C.SPEEDUP, C.LATENCY_MS)


def parse_objectives(text: str) -> tuple[tuple[str, str], ...]:
    """``"score,speedup"`` -> ``(("score", "max"), ("speedup", "max"))``; UsageError if bad."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise UsageError(f"--objectives must name at least one metric, but got {text!r}")
    unknown = [name for name in names if name not in REPORTED]
    if unknown:
        raise UsageError(f"--objectives {text!r}: {', '.join(map(repr, unknown))} is not a "
                         f"reported metric; choose from {', '.join(REPORTED)}")
    if len(set(names)) != len(names):
        raise UsageError(f"--objectives {text!r} names a metric twice")
    if len(names) == 1 and names[0] in MEASURED:
        # one objective is reported to Optuna at every evaluation; these exist at the end only
        raise UsageError(f"--objectives {text!r}: {names[0]} is measured once, at the end; "
                         "pair it with another metric, e.g. score,speedup")
    return tuple((name, REPORTED[name]) for name in names)


def with_objectives(space: Any, text: str) -> Any:
    """``space`` with its objectives replaced by those of ``--objectives`` ``text``."""
    if space.calibration:
        raise UsageError(f"--objectives does not apply to {space.name!r}: a calibration space "
                         "reports no model metrics")
    return dataclasses.replace(space, objectives=parse_objectives(text))


def check_measured(space: Any, settings: dict[str, Any]) -> None:
    """A latency objective needs the latency measurement the settings may switch off."""
    measured = [m for m in space.metrics if m in MEASURED]
    if measured and settings.get("measure_latency", True) is False:
        raise UsageError(f"--objectives {','.join(space.metrics)} needs measure_latency, but "
                         "these settings switch it off (the smoke profile does); add "
                         "--set measure_latency=true")


def allow_final_only_metrics(metrics: Iterable[str]) -> None:
    """Let Tune accept intermediate rows without the measured objectives.

    Tune checks that every result holds every metric the searcher optimises; ``speedup``
    and ``latency_ms`` exist in the final row only (the multi-objective searcher reads only
    that row). Call in the driver before the sweep starts or resumes.
    """
    if any(metric in MEASURED for metric in metrics):
        os.environ["TUNE_DISABLE_STRICT_METRIC_CHECKING"] = "1"
