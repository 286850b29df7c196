"""How long ``python -m analysis pareto`` takes over many result rows (target: 100k in < 10 s).

Writes two synthetic experiments on one task (a CAP and an SMP sweep, half the rows each) laid
out like the orchestrator's writer: one file per row named
``<trial_id>-it<NNNNNN>[-<status>].parquet`` plus one consolidated file per finished trial,
``evals`` rows per trial, most trials completed, some failed / diverged / pruned (a terminal
row) or still running, three ``param_*`` columns. Then times the full command (reading, fronts,
hypervolume, CSV/Parquet/Markdown, PNG and HTML) in a fresh interpreter; ``--all-files`` also
times the mode that reads and checks every file (finished trials' per-row files included).

    python benchmarks/analysis_pareto_scale.py                   # 100,000 rows
    python benchmarks/analysis_pareto_scale.py --rows 20000 --all-files
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analysis import schema  # noqa: E402

STATES = ("completed", "failed", "diverged", "pruned", "running")
STATE_SHARE = (0.85, 0.05, 0.04, 0.03, 0.03)


def experiment_table(name: str, method: str, rows: int, evals: int, seed: int) -> pa.Table:
    """``rows`` result rows of one synthetic sweep (``evals`` per trial), in trial order."""
    rng = np.random.default_rng(seed)
    trials = max(rows // evals, 1)
    n = trials * evals
    trial = np.repeat(np.arange(trials), evals)
    it = np.tile(np.arange(1, evals + 1), trials)
    sparsity = np.repeat(rng.random(trials), evals) * it / evals
    score = np.clip(0.92 - 0.3 * sparsity**3 + rng.normal(0, 0.02, n), 0, 1)
    state = np.repeat(rng.choice(STATES, size=trials, p=STATE_SHARE), evals)
    last = it == evals
    status = np.where(last, state, "running")  # failed/diverged/pruned: a terminal last row
    columns = {
        schema.EXPERIMENT: [name] * n, schema.SPACE: [f"{method}_sst2"] * n,
        schema.METHOD: [method] * n, schema.TASK: ["sst2"] * n, schema.MODEL: ["bert"] * n,
        schema.PROFILE: ["dev"] * n, schema.TRIAL_ID: [f"{name}_{t:05d}" for t in trial],
        schema.STATUS: status.tolist(), schema.SEED: np.zeros(n, dtype=np.int64),
        schema.ITERATION: it, schema.STEP: it * 100, schema.EPOCH: it / 10.0,
        schema.ELAPSED_S: it * 3.0, schema.IS_FINAL: last & (status != "running"),
        schema.SCORE: score, schema.ACCURACY: score, schema.EVAL_LOSS: 1 - score,
        schema.WEIGHT_SPARSITY: sparsity, schema.HEAD_SPARSITY: sparsity / 2,
        "param_learning_rate": np.repeat(10 ** rng.uniform(-5, -3, trials), evals),
        "param_temperature": np.repeat(rng.uniform(0.05, 1, trials), evals),
        "param_final_threshold": np.repeat(rng.uniform(0.05, 0.5, trials), evals),
    }
    params = {k[len(schema.PARAM_PREFIX):]: pa.float64() for k in columns
              if k.startswith(schema.PARAM_PREFIX)}
    target = schema.arrow_schema(params)
    arrays = {f.name: pa.array(columns.get(f.name, [None] * n), type=f.type) for f in target}
    arrays[schema.SCHEMA_VERSION_COL] = pa.array([schema.SCHEMA_VERSION] * n, pa.int32())
    return pa.table(arrays, schema=target)


def write_experiment(root: Path, name: str, method: str, rows: int, evals: int,
                     seed: int) -> tuple[Path, int]:
    """Write the sweep as the orchestrator does; return (folder, rows).

    One file per row, and for every trial that ended (completed, failed, diverged, pruned)
    one consolidated ``<trial>-upto<N>.parquet`` with all its rows, written at its end.
    """
    table = experiment_table(name, method, rows, evals, seed)
    results = root / name / "results"
    results.mkdir(parents=True)
    trial_ids = table.column(schema.TRIAL_ID).to_pylist()
    iterations = table.column(schema.ITERATION).to_pylist()
    statuses = table.column(schema.STATUS).to_pylist()
    for i in range(table.num_rows):
        suffix = "" if statuses[i] in ("running", "completed") else f"-{statuses[i]}"
        path = results / f"{trial_ids[i]}-it{iterations[i]:06d}{suffix}.parquet"
        pq.write_table(table.slice(i, 1), path, compression="none")
    for start in range(0, table.num_rows, evals):
        if statuses[start + evals - 1] != "running":
            path = results / f"{trial_ids[start]}-upto{iterations[start + evals - 1]:06d}.parquet"
            pq.write_table(table.slice(start, evals), path)
    return root / name, table.num_rows


def time_pareto(experiments: list[Path], out: Path, *extra: str) -> tuple[float, list[str]]:
    """Seconds the full ``pareto`` command takes in a fresh interpreter, and the command."""
    command = [sys.executable, "-m", "analysis", "pareto", *map(str, experiments),
               "--out", str(out), *extra]
    start = time.perf_counter()
    subprocess.run(command, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start, command


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="result rows in all")
    parser.add_argument("--evals", type=int, default=50, help="rows per trial")
    parser.add_argument("--all-files", action="store_true",
                        help="also time `pareto --all-files` (reads every file)")
    parser.add_argument("--latest-only", action="store_true",
                        help="also time `pareto --latest-only` (each trial's latest file)")
    parser.add_argument("--keep", type=Path, help="write the experiments here and keep them")
    args = parser.parse_args(argv)
    root = args.keep or Path(tempfile.mkdtemp(prefix="analysis-scale-"))
    try:
        exps, files = [], 0
        start = time.perf_counter()
        for i, method in enumerate(("cap-soft", "smp")):
            exp, n = write_experiment(root, f"{method}_scale", method, args.rows // 2,
                                      args.evals, seed=i)
            exps.append(exp)
            files += n
        print(f"wrote {files:,} result rows in {time.perf_counter() - start:.0f} s")
        runs = [()] + ([("--latest-only",)] if args.latest_only else []) \
            + ([("--all-files",)] if args.all_files else [])
        for extra in runs:
            seconds, command = time_pareto(exps, root / "report", *extra)
            print(f"pareto over {files:,} result rows ({args.evals} per trial){' '.join(extra)}"
                  f": {seconds:.2f} s")
            print("  command: " + " ".join(command))
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
