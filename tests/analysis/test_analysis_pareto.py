"""pareto_mask / nondominated / knee_index against naive oracles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.errors import AnalysisError
from analysis.pareto import knee_index
from analysis.pareto import nondominated
from analysis.pareto import pareto_mask


def oracle_mask(values: np.ndarray) -> np.ndarray:
    """O(n^2): a finite row is on the front unless another finite row dominates it."""
    n = len(values)
    finite = ~np.isnan(values).any(axis=1)
    mask = np.zeros(n, dtype=bool)
    for i in range(n):
        if not finite[i]:
            continue
        mask[i] = not any(
            finite[j] and np.all(values[j] <= values[i]) and np.any(values[j] < values[i])
            for j in range(n)
        )
    return mask


def random_values(rng: np.random.Generator) -> np.ndarray:
    """Small integer grids (many ties), duplicated rows and NaN cells."""
    n = int(rng.integers(0, 60))
    dims = int(rng.integers(1, 5))
    levels = int(rng.integers(2, 8))
    values = rng.integers(0, levels, size=(n, dims)).astype(float)
    if n > 2 and rng.random() < 0.7:
        dup = rng.integers(0, n, size=n // 3)
        values[rng.integers(0, n, size=len(dup))] = values[dup]
    if n and rng.random() < 0.5:
        values[rng.random(size=values.shape) < 0.08] = np.nan
    if rng.random() < 0.3:
        values += rng.normal(scale=1e-3, size=values.shape) * (rng.random(values.shape) < 0.5)
    return values


@pytest.mark.parametrize("seed", range(200))
def test_nondominated_matches_oracle(seed: int) -> None:
    values = random_values(np.random.default_rng(seed))
    np.testing.assert_array_equal(nondominated(values), oracle_mask(values))


@pytest.mark.parametrize("seed", range(100))
def test_pareto_mask_with_directions_matches_oracle(seed: int) -> None:
    rng = np.random.default_rng(10_000 + seed)
    values = random_values(rng)
    dims = values.shape[1]
    directions = [str(d) for d in rng.choice(["max", "min"], size=dims)]
    objectives = {f"o{i}": d for i, d in enumerate(directions)}
    df = pd.DataFrame(values, columns=list(objectives)).assign(other="x")
    signs = np.array([-1.0 if d == "max" else 1.0 for d in directions])
    np.testing.assert_array_equal(pareto_mask(df, objectives), oracle_mask(values * signs))


def test_ties_and_duplicates_are_all_kept() -> None:
    df = pd.DataFrame({"s": [0.5, 0.5, 0.5, 0.9, 0.9], "score": [0.8, 0.8, 0.7, 0.6, 0.6]})
    mask = pareto_mask(df, {"s": "max", "score": "max"})
    assert mask.tolist() == [True, True, False, True, True]


def test_nan_rows_are_never_on_the_front_and_dominate_nothing() -> None:
    df = pd.DataFrame({"s": [np.nan, 0.1, 0.9], "score": [1.0, 0.5, np.nan]})
    assert pareto_mask(df, {"s": "max", "score": "max"}).tolist() == [False, True, False]


def test_empty_and_all_nan() -> None:
    assert nondominated(np.empty((0, 2))).tolist() == []
    assert nondominated(np.full((3, 2), np.nan)).tolist() == [False] * 3


def test_unknown_objective_column_is_named() -> None:
    df = pd.DataFrame({"weight_sparsity": [0.1], "score": [0.5]})
    with pytest.raises(AnalysisError, match="'scor' is not in the results; did you mean score"):
        pareto_mask(df, {"weight_sparsity": "max", "scor": "max"})


def test_bad_direction_is_named() -> None:
    df = pd.DataFrame({"score": [0.5]})
    with pytest.raises(AnalysisError, match="direction 'up'"):
        pareto_mask(df, {"score": "up"})


def test_knee_is_the_point_farthest_beyond_the_chord() -> None:
    # (sparsity, score), both maximised -> negate for minimisation
    front = -np.array([[0.0, 0.92], [0.3, 0.91], [0.6, 0.88], [0.9, 0.6]])
    assert knee_index(front) == 2


def test_knee_of_a_single_point_and_of_flat_objectives() -> None:
    assert knee_index(np.array([[1.0, 2.0]])) == 0
    assert knee_index(np.array([[1.0, 2.0], [1.0, 2.0]])) == 0


@pytest.mark.parametrize("seed", range(30))
def test_knee_matches_chord_distance_in_2d(seed: int) -> None:
    rng = np.random.default_rng(seed)
    pts = rng.random((12, 2))
    front = pts[nondominated(pts)]
    if len(front) < 3:
        return
    scaled = (front.max(axis=0) - front) / (front.max(axis=0) - front.min(axis=0))
    # distance to the line through (1, 0) and (0, 1), signed towards the ideal point
    distance = (scaled.sum(axis=1) - 1) / np.sqrt(2)
    assert knee_index(front) == int(np.argmax(distance))
