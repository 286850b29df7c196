"""Hypervolume against a brute-force grid oracle and a Monte-Carlo estimate."""

from __future__ import annotations

import builtins
import itertools

import numpy as np
import pandas as pd
import pytest

from analysis.hypervolume import chance_level
from analysis.hypervolume import hypervolume
from analysis.hypervolume import hypervolume_history
from analysis.hypervolume import reference_point


def grid_oracle(points: np.ndarray, ref: np.ndarray) -> float:
    """Exact volume by coordinate compression: a grid cell counts when a point covers it.

    Cells lie between consecutive distinct coordinates (reference included); the box of a
    point p (minimised) is [p, ref], so it covers a cell iff p <= the cell's low corner.
    """
    points = points[~np.isnan(points).any(axis=1)]
    points = points[(points < ref).all(axis=1)]
    if not len(points):
        return 0.0
    axes = [np.unique(np.append(points[:, d], ref[d])) for d in range(len(ref))]
    total = 0.0
    for cell in itertools.product(*(range(len(a) - 1) for a in axes)):
        low = np.array([axes[d][i] for d, i in enumerate(cell)])
        if (points <= low).all(axis=1).any():
            total += float(np.prod([axes[d][i + 1] - axes[d][i] for d, i in enumerate(cell)]))
    return total


def monte_carlo(points: np.ndarray, ref: np.ndarray, rng: np.random.Generator,
                samples: int = 200_000) -> tuple[float, float]:
    low = np.zeros(len(ref))
    box = np.prod(ref - low)
    draws = rng.uniform(low, ref, size=(samples, len(ref)))
    hit = np.zeros(samples, dtype=bool)
    for p in points:
        hit |= (draws >= p).all(axis=1)
    share = hit.mean()
    return box * share, box * np.sqrt(share * (1 - share) / samples)


def random_points(rng: np.random.Generator, dims: int) -> np.ndarray:
    n = int(rng.integers(0, 14))
    pts = rng.integers(0, 6, size=(n, dims)).astype(float) / 5
    if rng.random() < 0.5:
        pts = pts + rng.normal(scale=0.05, size=pts.shape)
    if n > 1 and rng.random() < 0.4:
        pts[0] = pts[-1]  # a duplicate
    if n and rng.random() < 0.3:
        pts[rng.integers(0, n)] = np.nan
    return pts


@pytest.mark.parametrize("dims", [1, 2, 3])
@pytest.mark.parametrize("seed", range(40))
def test_hypervolume_matches_grid_oracle(seed: int, dims: int) -> None:
    rng = np.random.default_rng(seed * 7 + dims)
    points = random_points(rng, dims)
    ref = np.full(dims, 0.9)  # some points lie beyond the reference and must add nothing
    assert hypervolume(points, ref) == pytest.approx(grid_oracle(points, ref), abs=1e-12)


@pytest.mark.parametrize("seed", range(15))
def test_optuna_fallback_matches_grid_oracle_in_3d(seed: int, monkeypatch) -> None:
    real_import = builtins.__import__

    def no_moocore(name: str, *args, **kwargs):
        if name == "moocore":
            raise ImportError("hidden for the test")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_moocore)
    points = random_points(np.random.default_rng(500 + seed), 3)
    ref = np.full(3, 0.9)
    assert hypervolume(points, ref) == pytest.approx(grid_oracle(points, ref), abs=1e-12)


@pytest.mark.parametrize("dims", [2, 3])
def test_hypervolume_agrees_with_monte_carlo(dims: int) -> None:
    rng = np.random.default_rng(dims)
    points = rng.random((25, dims))
    ref = np.ones(dims)
    estimate, stderr = monte_carlo(points, ref, rng)
    assert 0 < stderr and abs(hypervolume(points, ref) - estimate) < 5 * stderr


def test_points_beyond_the_reference_add_nothing() -> None:
    ref = np.array([0.0, -0.5])  # sparsity 0, chance score 0.5 (maximised -> negated)
    inside = np.array([[-0.5, -0.9]])
    outside = np.array([[-0.9, -0.4], [0.0, -0.99], [0.1, -1.0]])
    assert hypervolume(np.vstack([inside, outside]), ref) == pytest.approx(0.5 * 0.4)
    assert hypervolume(outside, ref) == 0.0


def test_hypervolume_history_equals_prefix_volumes() -> None:
    rng = np.random.default_rng(3)
    values = rng.random((40, 2))
    values[[4, 9]] = np.nan
    ref = np.array([0.95, 0.95])
    expected = [hypervolume(values[: i + 1], ref) for i in range(len(values))]
    np.testing.assert_allclose(hypervolume_history(values, ref), expected)
    assert np.all(np.diff(hypervolume_history(values, ref)) >= 0)


def test_chance_levels_accept_glue_spellings() -> None:
    assert chance_level("SST-2") == 0.5
    assert chance_level("MNLI") == pytest.approx(1 / 3)
    assert chance_level("cola") == 0.0
    assert chance_level("toy_pair") == 0.5
    assert chance_level("wnli") is None
    assert chance_level(None) is None


def test_reference_point_rules_and_notes() -> None:
    df = pd.DataFrame({"weight_sparsity": [0.2, 0.6], "score": [0.7, 0.9],
                       "latency_ms": [3.0, 5.0]})
    objectives = {"weight_sparsity": "max", "score": "max"}
    ref = reference_point(df, objectives, "sst2")
    assert ref.point == {"weight_sparsity": 0.0, "score": 444 / 872}
    assert ref.notes == ("score: majority-class score 0.5092 (full GLUE dev set (table))",)
    ref = reference_point(df, objectives, "qqp")
    assert ref.point["score"] == pytest.approx(0.3159, abs=1e-4)  # not chance (0.5)
    ref = reference_point(df, objectives, "MRPC")
    assert ref.point["score"] == pytest.approx(0.7480, abs=1e-4)
    assert reference_point(df, objectives, "stsb").point["score"] == 0.0
    ref = reference_point(df, objectives, "qqp", majority=0.4)  # recorded by the experiment
    assert ref.point["score"] == 0.4 and "experiment.json majority_score" in ref.notes[0]
    ref = reference_point(df, objectives, "my_task")
    assert ref.point["score"] == 0.7
    assert "task 'my_task' has no known majority-class score" in ref.notes[0]
    ref = reference_point(df, {"latency_ms": "min", "score": "max"}, "sst2", {"score": 0.8})
    assert ref.point == {"latency_ms": 5.0, "score": 0.8}
    assert "maximum" in ref.notes[0] and "given with --ref" in ref.notes[1]
