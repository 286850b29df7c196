"""A trainable that does a fixed amount of CPU work: measures what the orchestrator costs.

Each trial spins for ``work_s`` seconds of wall time, reporting ``num_reports`` times with a
small checkpoint like a real trial, and reports the time it spent working. A sweep of these
tells how much of a cluster's slot time the orchestration itself (process start, scheduling,
checkpoint upload, result writing) eats: ``work / (slots x wall)``.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainables import report_keys as K
from trainables.config import ConfigError, from_mapping
from trainables.reporting import Reporter


@dataclass(frozen=True)
class FixedWorkConfig:
    work_s: float = 2.0
    num_reports: int = 4
    seed: int = 0
    num_threads: int = 0
    knob: float = 0.5  # a searched value, so the searcher has something to propose
    storage_root: str | None = None  # given to every trainable; unused here

    def __post_init__(self) -> None:
        if self.work_s <= 0:
            raise ConfigError(f"`work_s` must be > 0, but got {self.work_s!r}")
        if self.num_reports < 1:
            raise ConfigError(f"`num_reports` must be >= 1, but got {self.num_reports!r}")


def run(config: Mapping[str, Any], report: Reporter, *, resume_from: Path | None = None) -> None:
    cfg = from_mapping(FixedWorkConfig, config)
    done = int((resume_from / "done").read_text()) if resume_from else 0
    slice_s = cfg.work_s / cfg.num_reports
    worked = 0.0
    for index in range(done, cfg.num_reports):
        start = time.perf_counter()
        while time.perf_counter() - start < slice_s:
            sum(i * i for i in range(1000))  # real CPU work, not a sleep
        worked += time.perf_counter() - start
        directory = Path(tempfile.mkdtemp(prefix="fixed-work-"))
        (directory / "done").write_text(str(index + 1))
        final = index + 1 == cfg.num_reports
        try:
            report({K.METHOD: "dense", K.TASK: "none", K.MODEL: "none", K.STEP: index + 1,
                    K.TOTAL_STEPS: cfg.num_reports, K.IS_FINAL: final, K.SCORE: cfg.knob,
                    K.WEIGHT_SPARSITY: 0.0, K.HEAD_SPARSITY: 0.0, K.TRAIN_TIME_S: worked,
                    K.WORK_S: worked, K.SPARSITY_SETTLED: True}, checkpoint_dir=directory)
        finally:
            shutil.rmtree(directory, ignore_errors=True)
