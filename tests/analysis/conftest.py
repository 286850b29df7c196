"""Fixtures for the analysis tests; the data and writers live in ``analysis_fixtures``."""

from __future__ import annotations

import sys
from collections.abc import Callable
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # for `import analysis_fixtures` in any mode

from analysis_fixtures import CAP_TRIALS  # noqa: E402
from analysis_fixtures import DENSE_TRIALS  # noqa: E402
from analysis_fixtures import SMP_TRIALS  # noqa: E402
from analysis_fixtures import Trial  # noqa: E402
from analysis_fixtures import write_experiment  # noqa: E402


@pytest.fixture
def make_experiment(tmp_path: Path) -> Callable[..., Path]:
    """``make_experiment(name, trials, method=..., task=...)`` under a fresh tmp folder."""
    def make(name: str, trials: Sequence[Trial], **kwargs: Any) -> Path:
        return write_experiment(tmp_path / "experiments", name, trials, **kwargs)

    return make


@pytest.fixture
def sst2_experiments(make_experiment: Callable[..., Path]) -> dict[str, Path]:
    """CAP, SMP and dense experiments on SST-2."""
    return {
        "cap": make_experiment("cap_sst2", CAP_TRIALS, method="cap-soft"),
        "smp": make_experiment("smp_sst2", SMP_TRIALS, method="smp"),
        "dense": make_experiment("dense_sst2", DENSE_TRIALS, method="dense"),
    }
