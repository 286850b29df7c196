"""``calibrate``: trials of fixed CPU work that measure the orchestrator's own overhead.

Slot-time efficiency = time inside the work / (slots x wall). Set the work per trial with
``--set work_s=30``; compare with and without ``--reuse-actors``.
"""

from __future__ import annotations

from typing import Any

from facts.columns import SCORE
from search_spaces.space import SearchSpace


def define_calibrate(trial: Any) -> None:
    trial.suggest_float("knob", 0.0, 1.0)


def calibrate_space() -> SearchSpace:
    return SearchSpace(
        name="calibrate",
        trainable="fixed_work",
        description="orchestrator overhead: each trial does --set work_s=SECONDS of CPU work",
        define=define_calibrate,
        objectives=((SCORE, "max"),),
        fixed={"work_s": 2.0, "num_reports": 4},
        calibration=True,
    )
