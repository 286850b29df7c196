"""Shared pytest fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_glue() -> Path:
    """The real GLUE files in ``<repo>/../shared/data/glue``; skips the test if absent."""
    root = (REPO.parent / "shared" / "data" / "glue").resolve()
    if not root.is_dir():
        pytest.skip(f"shared GLUE data not found at {root}")
    return root


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray cluster for the whole session (2 CPUs, no dashboard)."""
    import ray

    if not ray.is_initialized():
        ray.init(address="local", num_cpus=2, include_dashboard=False,
                 logging_level="ERROR", log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture
def tiny_dense_config(tmp_path) -> dict:
    """A dense trial on the tiny model and generated data that trains in a few seconds."""
    return {
        "task": "toy_single", "model": "tiny", "synthetic_data": True,
        "max_train_examples": 48, "max_eval_examples": 24, "max_seq_length": 32,
        "train_batch_size": 8, "eval_batch_size": 24, "max_steps": 6, "eval_every": 3,
        "measure_latency": False, "storage_root": str(tmp_path / "storage"), "num_threads": 1,
    }
