"""Fixtures for the namespace cluster: skipped, with the reason, where it cannot run."""

from __future__ import annotations

import pytest

from tests.cluster.netns_cluster import NamespaceCluster, unavailable


@pytest.fixture(scope="module")
def ray_cluster():
    """A head and two workers (1 CPU each) running Ray with token authentication."""
    reason = unavailable()
    if reason:
        pytest.skip(f"namespace cluster: {reason}")
    with NamespaceCluster(workers=2) as cluster:
        cluster.start_ray()
        yield cluster
