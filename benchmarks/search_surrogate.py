"""A surrogate of one space's recorded sweep: learning curves, cost and noise from the table.

The search-efficiency benchmark (``benchmarks/search_efficiency.py``) asks this model what a
trial with given hyper-parameters would have reported, instead of training it. The model:

- **Curves.** Every recorded trial's score and weight sparsity are interpolated (in the step
  axis, as a fraction of the trial's steps) onto the table's common evaluation fractions;
  one random forest per objective (scikit-learn, multi-output: one output per fraction)
  maps the hyper-parameters to the whole curve. Floats and ints searched on a log scale are
  fed as their log, categoricals one-hot.
- **Cost.** A random forest on the trial's final ``elapsed_s`` (seconds the trial held its
  slot), and the mean fraction of that cost spent by each evaluation fraction.
- **Noise.** Configurations run again with other seeds (``repeat`` rows) give a pooled
  within-configuration standard deviation per objective; each simulated trial draws one
  Gaussian offset per objective (the same along its curve, since a seed shifts a whole run).
  Without repeats there is no noise, or (``--noise heldout``) the held-out RMSE stands in
  as an upper bound (said in :meth:`Surrogate.describe`).
- **Honesty.** :func:`cross_validate` reports R^2 and Spearman's rank correlation of the final
  values on trials the forests did not see (k-fold); :func:`check_accuracy` refuses a
  surrogate below :data:`MIN_R2` / :data:`MIN_SPEARMAN` for any objective.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

OBJECTIVES = ("score", "weight_sparsity")
#: Held-out accuracy below which a surrogate is not used (final values, every objective).
MIN_R2 = 0.5
MIN_SPEARMAN = 0.7


class SurrogateError(ValueError):
    """The table cannot support a surrogate (too few trials, or too inaccurate)."""


@dataclass(frozen=True)
class Param:
    """How one searched parameter becomes model features."""

    name: str
    kind: str  # float | int | categorical
    log: bool = False
    choices: tuple[Any, ...] = ()

    def features(self, value: Any) -> list[float]:
        if self.kind == "categorical":
            return [float(_same(value, choice)) for choice in self.choices]
        value = float(value)
        return [math.log(value) if self.log else value]


def _same(value: Any, choice: Any) -> bool:
    if isinstance(choice, bool) or isinstance(value, bool):
        return str(value).lower() == str(choice).lower()
    if isinstance(choice, (int, float)):
        try:
            return float(value) == float(choice)
        except (TypeError, ValueError):
            return False
    return str(value) == str(choice)


def params_of(space: Any) -> tuple[Param, ...]:
    """The feature encoding of a :class:`search_spaces.space.SearchSpace`'s suggestions."""
    return tuple(Param(s.name, s.kind, bool(s.log), tuple(s.choices))
                 for s in space.suggestions().values())


@dataclass(frozen=True)
class RecordedTrial:
    """One trial of the table: its hyper-parameters and its curves on the common fractions."""

    trial_id: str
    params: dict[str, Any]
    curves: dict[str, np.ndarray]  # objective -> values at Surrogate.fractions
    cost_s: float  # seconds to the final evaluation
    cost_fractions: np.ndarray  # share of cost_s spent by each fraction
    settled_from: float = 0.0  # first fraction at which the trial's sparsity had settled
    is_repeat: bool = False  # another seed of a main-sweep configuration (noise only)
    repeat_of: str = ""


def load_table(path: str | Path) -> Any:
    """The table (CSV or Parquet) as a DataFrame."""
    import pandas as pd

    path = Path(path)
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, keep_default_na=True)


def recorded_trials(table: Any, params: Sequence[Param]) -> tuple[list[RecordedTrial], np.ndarray]:
    """Completed trials of the table and the common evaluation fractions.

    The fractions are those that every completed trial of the main sweep reached (its own
    evaluations), so no curve is extrapolated.
    """
    done = table[(table["status"] == "completed") & (table["is_final"] == 1)]
    done_keys = set(zip(done["experiment"], done["trial_id"]))
    rows = table[[k in done_keys for k in zip(table["experiment"], table["trial_id"])]]
    if rows.empty:
        raise SurrogateError("the table has no completed trial")
    per_trial = rows.groupby(["experiment", "trial_id"], sort=True)
    fractions = sorted(set.intersection(*(set(np.round(g["fraction"].astype(float), 6))
                                          for _, g in per_trial)))
    fractions = np.array([f for f in fractions if f > 0], dtype=float)
    trials = []
    for (experiment, trial_id), g in per_trial:
        g = g.sort_values(["fraction", "is_final"])
        g = g.drop_duplicates("fraction", keep="last")
        final = g[g["is_final"] == 1].iloc[-1]
        frac = g["fraction"].astype(float).to_numpy()
        curves = {obj: np.interp(fractions, frac, g[obj].astype(float).to_numpy())
                  for obj in OBJECTIVES}
        elapsed = g["elapsed_s"].astype(float).to_numpy()
        cost = float(final["elapsed_s"])
        cost_fractions = np.clip(np.interp(fractions, frac, elapsed) / cost, 0, 1) \
            if cost > 0 else fractions.copy()
        values = {p.name: final[f"param_{p.name}"] for p in params}
        repeat_of = str(final.get("repeat_of", "") or "")
        settled = g[g["sparsity_settled"].astype(int) == 1]["fraction"].astype(float)
        trials.append(RecordedTrial(
            f"{experiment}/{trial_id}", values, curves, cost, cost_fractions,
            float(settled.min()) if len(settled) else 1.0,
            bool(int(final.get("repeat", 0) or 0)), "" if repeat_of == "nan" else repeat_of))
    return trials, fractions


def pooled_noise(trials: Sequence[RecordedTrial]) -> dict[str, float]:
    """Within-configuration standard deviation of each final objective, pooled over groups."""
    groups: dict[str, list[RecordedTrial]] = {}
    by_id = {t.trial_id: t for t in trials}
    for t in trials:
        if t.is_repeat and t.repeat_of in by_id:
            groups.setdefault(t.repeat_of, [by_id[t.repeat_of]]).append(t)
    noise = {}
    for obj in OBJECTIVES:
        squares, dof = 0.0, 0
        for members in groups.values():
            finals = np.array([m.curves[obj][-1] for m in members])
            squares += float(((finals - finals.mean()) ** 2).sum())
            dof += len(finals) - 1
        noise[obj] = math.sqrt(squares / dof) if dof else 0.0
    return noise


@dataclass
class Surrogate:
    """Random forests from hyper-parameters to curves and cost, with measured noise."""

    params: tuple[Param, ...]
    fractions: np.ndarray
    noise: dict[str, float]
    settled_from: float = 0.0  # evaluations before this fraction have unsettled sparsity
    models: dict[str, Any] = field(default_factory=dict)
    cost_model: Any = None
    cost_fractions: np.ndarray | None = None
    num_trials: int = 0
    num_repeats: int = 0
    accuracy: dict[str, dict[str, float]] = field(default_factory=dict)
    noise_source: str = ""

    def features(self, values: Mapping[str, Any]) -> np.ndarray:
        return np.array([f for p in self.params for f in p.features(values[p.name])])

    def predict(self, values: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Mean curves (objective -> values at ``fractions``) and ``cost_s`` for one config."""
        x = self.features(values)
        out = {obj: self._fast(obj, model).predict_one(x) for obj, model in self.models.items()}
        out["cost_s"] = self._fast("cost_s", self.cost_model).predict_one(x)
        return out

    def _fast(self, key: str, model: Any) -> FlatForest:
        cache = self.__dict__.setdefault("_flat", {})
        if key not in cache:
            cache[key] = FlatForest(model)
        return cache[key]

    def sample(self, values: Mapping[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        """One simulated trial: noisy curves, their mean, and the cost of each evaluation."""
        mean = self.predict(values)
        noisy = {}
        for obj in OBJECTIVES:
            offset = rng.normal(0.0, self.noise.get(obj, 0.0)) if self.noise.get(obj) else 0.0
            noisy[obj] = np.clip(mean[obj] + offset, 0.0, 1.0)
        cost = max(float(mean["cost_s"][0]), 1e-6)
        return {"fractions": self.fractions, "curves": noisy,
                "mean": {obj: mean[obj] for obj in OBJECTIVES},
                "cost_s": cost * self.cost_fractions}

    def use_heldout_noise(self) -> None:
        """Noise = the held-out RMSE of each final objective: an upper bound on the seed noise
        (it also holds the model's error), for tables without repeats."""
        self.noise = {obj: acc["rmse"] for obj, acc in self.accuracy.items()}
        self.noise_source = "held-out RMSE (upper bound; no repeats)"

    def describe(self) -> str:
        acc = "; ".join(f"{obj}: R^2 {a['r2']:.3f}, Spearman {a['spearman']:.3f}"
                        for obj, a in self.accuracy.items())
        source = self.noise_source or (
            f"{self.num_repeats} repeat trials" if self.num_repeats else "no repeats")
        noise = ", ".join(f"{obj} {s:.4f}" for obj, s in self.noise.items())
        return (f"random forests on {self.num_trials} trials, fractions "
                f"{[round(float(f), 3) for f in self.fractions]}; held-out {acc}; "
                f"noise sd {noise} ({source})")


class FlatForest:
    """A fitted scikit-learn forest walked for one sample in numpy, all trees at once.

    ``RandomForestRegressor.predict`` costs ~100 ms for a single row of a 200-tree forest
    (joblib dispatch per tree); the benchmark asks for one row per simulated trial, so this
    walks every tree's arrays level by level instead (same splits, same result: features are
    compared in float32, as scikit-learn does).
    """

    def __init__(self, forest: Any) -> None:
        trees = [est.tree_ for est in forest.estimators_]
        width = max(t.node_count for t in trees)
        n_out = trees[0].value.shape[1]
        self.left = np.full((len(trees), width), -1, dtype=np.int64)
        self.right = np.full((len(trees), width), -1, dtype=np.int64)
        self.feature = np.zeros((len(trees), width), dtype=np.int64)
        self.threshold = np.zeros((len(trees), width))
        self.value = np.zeros((len(trees), width, n_out))
        for i, t in enumerate(trees):
            n = t.node_count
            self.left[i, :n], self.right[i, :n] = t.children_left, t.children_right
            self.feature[i, :n] = np.maximum(t.feature, 0)
            self.threshold[i, :n] = t.threshold
            self.value[i, :n] = t.value[:, :, 0]
        self.rows = np.arange(len(trees))

    def predict_one(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32).astype(np.float64)
        node = np.zeros(len(self.rows), dtype=np.int64)
        while True:
            left = self.left[self.rows, node]
            inner = left >= 0
            if not inner.any():
                break
            go_left = x[self.feature[self.rows, node]] <= self.threshold[self.rows, node]
            node = np.where(inner, np.where(go_left, left, self.right[self.rows, node]), node)
        return self.value[self.rows, node].mean(axis=0)


def _forest(seed: int) -> Any:
    from sklearn.ensemble import RandomForestRegressor

    return RandomForestRegressor(n_estimators=200, min_samples_leaf=2, random_state=seed,
                                 n_jobs=1)


def _design(trials: Sequence[RecordedTrial], params: Sequence[Param]) -> np.ndarray:
    return np.array([[f for p in params for f in p.features(t.params[p.name])] for t in trials])


def fit(table: Any, space: Any, *, seed: int = 0, folds: int = 5,
        params: Sequence[Param] | None = None) -> Surrogate:
    """Fit the surrogate of ``space`` on ``table`` and measure its held-out accuracy.

    Repeats (other seeds of a configuration) only measure noise; the forests and the
    cross-validation use the main sweep's trials. ``params``: the model's inputs when they
    are not the space's suggestions (target mode: the target instead of the derived knob).
    """
    params = tuple(params) if params is not None else params_of(space)
    trials, fractions = recorded_trials(table, params)
    main = [t for t in trials if not t.is_repeat]
    if len(main) < max(folds, 4):
        raise SurrogateError(f"{len(main)} completed trials; a surrogate needs at least "
                             f"{max(folds, 4)}")
    x = _design(main, params)
    surrogate = Surrogate(params, fractions, pooled_noise(trials), num_trials=len(main),
                          num_repeats=len(trials) - len(main),
                          settled_from=max(t.settled_from for t in main))
    for obj in OBJECTIVES:
        y = np.array([t.curves[obj] for t in main])
        surrogate.models[obj] = _forest(seed).fit(x, y)
    surrogate.cost_model = _forest(seed).fit(x, np.array([t.cost_s for t in main]))
    surrogate.cost_fractions = np.mean([t.cost_fractions for t in main], axis=0)
    surrogate.cost_fractions[-1] = 1.0
    surrogate.accuracy = cross_validate(x, {obj: np.array([t.curves[obj][-1] for t in main])
                                            for obj in OBJECTIVES}, seed=seed, folds=folds)
    return surrogate


def cross_validate(x: np.ndarray, targets: Mapping[str, np.ndarray], *, seed: int = 0,
                   folds: int = 5) -> dict[str, dict[str, float]]:
    """k-fold held-out R^2 and Spearman correlation of each final objective."""
    from scipy.stats import spearmanr
    from sklearn.metrics import r2_score
    from sklearn.model_selection import KFold

    result = {}
    for obj, y in targets.items():
        predicted = np.empty_like(y, dtype=float)
        for train, test in KFold(folds, shuffle=True, random_state=seed).split(x):
            predicted[test] = _forest(seed).fit(x[train], y[train]).predict(x[test])
        rho = spearmanr(y, predicted).statistic if np.ptp(y) > 0 else float("nan")
        result[obj] = {"r2": float(r2_score(y, predicted)), "spearman": float(rho),
                       "rmse": float(np.sqrt(np.mean((y - predicted) ** 2)))}
    return result


def check_accuracy(surrogate: Surrogate, *, min_r2: float = MIN_R2,
                   min_spearman: float = MIN_SPEARMAN) -> None:
    """Raise :class:`SurrogateError` naming the objective whose held-out accuracy is poor."""
    for obj, acc in surrogate.accuracy.items():
        if not (acc["r2"] >= min_r2 and acc["spearman"] >= min_spearman):
            raise SurrogateError(
                f"surrogate too inaccurate on {obj}: held-out R^2 {acc['r2']:.3f} (need >= "
                f"{min_r2}), Spearman {acc['spearman']:.3f} (need >= {min_spearman}) over "
                f"{surrogate.num_trials} trials; record more trials")
