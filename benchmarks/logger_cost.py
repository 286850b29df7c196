"""Driver-side cost per reported result: TensorBoard logging (``--log-to tensorboard``, the
default) against the Parquet row the sweep writes anyway.

Both run in this one process, alternating in rounds, on a result of the size our trainables
report; the ratio is the figure (absolute milliseconds depend on the disk and the load).

    python benchmarks/logger_cost.py [--results 300] [--rounds 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace


class _Trial:
    """What Tune's TBXLoggerCallback reads from a trial (hashable, like a Tune Trial)."""

    def __init__(self, folder: str) -> None:
        self.local_path = self.logdir = folder
        self.config = {"learning_rate": 3e-5, "warmup_ratio": 0.1}
        self.evaluated_params = dict(self.config)
        self.trial_id = Path(folder).name

    def init_local_path(self) -> None:
        Path(self.local_path).mkdir(parents=True, exist_ok=True)


def _result(i: int) -> dict:
    metrics = {"step": 10 * i, "total_steps": 10_000, "epoch": 0.01 * i, "elapsed_s": 1.0 * i,
               "is_final": False, "score": 0.5, "accuracy": 0.5, "f1": 0.5, "eval_loss": 0.69,
               "weight_sparsity": 0.3, "head_sparsity": 0.0, "params_total": 21_000_000,
               "params_remaining": 15_000_000, "train_time_s": 1.0 * i,
               "examples_per_s": 100.0, "device": "cpu", "method": "cap-soft",
               "task": "qqp", "model": "minilm", "seed": 1, "sparsity_settled": True}
    return {**metrics, "training_iteration": i, "time_total_s": float(i),
            "timesteps_total": None, "episodes_total": None}


def time_tensorboard(root: str, n: int) -> float:
    from ray.tune.logger import TBXLoggerCallback

    callback, trial = TBXLoggerCallback(), _Trial(tempfile.mkdtemp(dir=root))
    start = time.perf_counter()
    for i in range(1, n + 1):
        callback.log_trial_result(i, trial, _result(i))
    seconds = time.perf_counter() - start
    callback.log_trial_end(trial)
    return seconds / n


def time_parquet(root: str, n: int) -> float:
    from orchestrator.results import ParquetResultsCallback

    exp = tempfile.mkdtemp(dir=root)
    callback = ParquetResultsCallback(root, f"{exp}/results", {"experiment": "e",
                                      "space": "cap_soft_qqp", "profile": "dev"},
                                      ["final_lambda"], ["score"], n, quiet=True)
    callback.setup()
    trial = SimpleNamespace(trial_id="t", config={"final_lambda": 300.0}, path=None)
    start = time.perf_counter()
    for i in range(1, n + 1):
        callback.on_trial_result(i, [trial], trial, _result(i))
    return (time.perf_counter() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    root = tempfile.mkdtemp(prefix="logger-cost-")
    tb, pq = [], []
    for _ in range(args.rounds):
        tb.append(time_tensorboard(root, args.results))
        pq.append(time_parquet(root, args.results))
    tb_ms, pq_ms = 1e3 * sorted(tb)[len(tb) // 2], 1e3 * sorted(pq)[len(pq) // 2]
    print(f"command: python benchmarks/logger_cost.py --results {args.results} "
          f"--rounds {args.rounds}")
    print(f"per result (median of {args.rounds} rounds): TensorBoard {tb_ms:.1f} ms, "
          f"Parquet row {pq_ms:.1f} ms, ratio {tb_ms / pq_ms:.2f}x")


if __name__ == "__main__":
    main()
