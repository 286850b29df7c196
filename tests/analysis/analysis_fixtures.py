"""Fixture experiments for the analysis tests, built with ``analysis.schema.rows_to_table``.

Imported by the tests as ``analysis_fixtures`` (a unique name: no clash with other
``conftest`` modules of the project).

``make_experiment(name, trials, ...)`` writes one Parquet file per reported row, named like
the orchestrator's (``<trial_id>-it000003.parquet``): running rows, then the final row.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from analysis import schema

Trial = Mapping[str, Any]
TERMINAL = (schema.STATUS_FAILED, schema.STATUS_DIVERGED, schema.STATUS_PRUNED)


def trial_rows(
    trial: Trial, *, experiment: str, method: str, task: str, space: str
) -> list[dict[str, Any]]:
    """The rows one trial reports, as the orchestrator's writer does.

    completed: ``iterations - 1`` running rows and a final row; running: ``iterations``
    running rows; failed / diverged / pruned: ``iterations`` running rows, then a terminal
    row (``is_final``, the status, the last metrics) at ``iterations + 1``.

    ``trial`` keys: trial_id, score, weight_sparsity, head_sparsity (default
    weight_sparsity / 2), status (default completed), iterations (default 2), params
    (dict of searched values).
    """
    iterations = int(trial.get("iterations", 2))
    status = trial.get("status", schema.STATUS_COMPLETED)
    sparsity = trial.get("weight_sparsity", 0.0)
    base = {
        schema.EXPERIMENT: experiment, schema.SPACE: space, schema.METHOD: method,
        schema.TASK: task, schema.MODEL: "tiny-bert", schema.PROFILE: "smoke",
        schema.TRIAL_ID: trial["trial_id"], schema.SEED: 0,
        schema.HEAD_SPARSITY: trial.get("head_sparsity", sparsity / 2),
        **{schema.param_column(k): v for k, v in trial.get("params", {}).items()},
    }
    rows = []
    for it in range(1, iterations + 1):
        final = it == iterations and status == schema.STATUS_COMPLETED
        rows.append({
            **base, schema.ITERATION: it, schema.STEP: 10 * it, schema.EPOCH: float(it),
            schema.ELAPSED_S: 1.5 * it, schema.IS_FINAL: final,
            schema.STATUS: schema.STATUS_COMPLETED if final else schema.STATUS_RUNNING,
            schema.SCORE: trial["score"] if it == iterations else trial["score"] * 0.9,
            schema.WEIGHT_SPARSITY: sparsity * it / iterations,
        })
    if status in TERMINAL:
        rows.append({**rows[-1], schema.ITERATION: iterations + 1, schema.IS_FINAL: True,
                     schema.STATUS: status, schema.ERROR: f"the trial {status}"})
    return rows


def file_name(row: Mapping[str, Any]) -> str:
    """The writer's name for a one-row file: ``<trial_id>-it<NNNNNN>[-<status>].parquet``."""
    suffix = f"-{row[schema.STATUS]}" if row[schema.STATUS] in TERMINAL else ""
    return f"{row[schema.TRIAL_ID]}-it{row[schema.ITERATION]:06d}{suffix}.parquet"


def write_experiment(
    root: Path, name: str, trials: Sequence[Trial], *, method: str = "cap-soft",
    task: str = "sst2", space: str | None = None, info: bool = True,
) -> Path:
    """Write an experiment folder under ``root`` and return its path."""
    exp = root / name
    (exp / "results").mkdir(parents=True, exist_ok=True)
    space = space or f"{method}_{task}"
    if info:
        (exp / "experiment.json").write_text(
            json.dumps({"name": name, "space": space, "profile": "smoke"})
        )
    for trial in trials:
        for row in trial_rows(trial, experiment=name, method=method, task=task, space=space):
            pq.write_table(schema.rows_to_table([row]), exp / "results" / file_name(row))
    return exp


#: A CAP sweep on SST-2: front = c1, c2, c5 (c5 shares c3's sparsity with
#: a higher score, so c3 is dominated); c4 dominated; one trial each failed, diverged,
#: pruned, NaN score and still running.
CAP_TRIALS: list[Trial] = [
    {"trial_id": "c1", "score": 0.90, "weight_sparsity": 0.10, "params": {"lr": 1e-4, "t": 0.1}},
    {"trial_id": "c2", "score": 0.88, "weight_sparsity": 0.50, "params": {"lr": 2e-4, "t": 0.2}},
    {"trial_id": "c3", "score": 0.70, "weight_sparsity": 0.90, "params": {"lr": 3e-4, "t": 0.3}},
    {"trial_id": "c4", "score": 0.80, "weight_sparsity": 0.40, "params": {"lr": 4e-4, "t": 0.4}},
    {"trial_id": "c5", "score": 0.75, "weight_sparsity": 0.90, "params": {"lr": 5e-4, "t": 0.5}},
    {"trial_id": "c6", "score": 0.95, "weight_sparsity": 0.95, "status": "failed"},
    {"trial_id": "c7", "score": 0.95, "weight_sparsity": 0.95, "status": "diverged"},
    {"trial_id": "c8", "score": 0.95, "weight_sparsity": 0.95, "status": "pruned"},
    {"trial_id": "c9", "score": float("nan"), "weight_sparsity": 0.95},
    {"trial_id": "c10", "score": 0.99, "weight_sparsity": 0.99, "status": "running"},
]
CAP_FRONT = {"c1", "c2", "c5"}
#: An SMP sweep on SST-2 (head pruning): front = s1, s3.
SMP_TRIALS: list[Trial] = [
    {"trial_id": "s1", "score": 0.89, "weight_sparsity": 0.20, "params": {"ratio": 0.3}},
    {"trial_id": "s2", "score": 0.80, "weight_sparsity": 0.25, "params": {"ratio": 0.4}},
    {"trial_id": "s3", "score": 0.85, "weight_sparsity": 0.30, "params": {"ratio": 0.5}},
]
SMP_FRONT = {"s1", "s3"}
DENSE_TRIALS: list[Trial] = [{"trial_id": "d1", "score": 0.92, "weight_sparsity": 0.0}]
