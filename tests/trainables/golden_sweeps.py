"""Golden sweep rows: one smoke-profile Ray sweep per method, recorded before a refactor.

The sweep-level twin of :mod:`tests.trainables.golden_rows`: ``launch`` through the CLI on a
local Ray cluster (one trial, sampler seed 7), then the stored rows read back with
``analysis.io.read_results``. It covers what the in-process golden rows cannot: Optuna's
suggestion for a seed, the profile's settings merged by the orchestrator, the writer's
columns. Recorded with ``python -m tests.trainables.golden_sweeps`` on the code before the
refactor; compared by :func:`tests.trainables.golden_rows.differences` (same tolerance).
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.trainables.golden_rows import CASES

GOLDEN = Path(__file__).with_name("golden_sweeps.json")
SEED = 7
# what a sweep row holds that does not depend on the clock, the host or the folder
COLUMNS = ("space", "method", "task", "model", "profile", "status", "seed", "iteration",
           "step", "epoch", "is_final", "score", "accuracy", "eval_loss", "weight_sparsity",
           "head_sparsity", "params_total", "params_remaining", "device")


def sweep_rows(space: str, storage: Path) -> list[dict[str, Any]]:
    """The rows of a one-trial smoke sweep of ``space``, by iteration (NaN as None)."""
    from analysis import schema as S
    from analysis.io import read_results
    from orchestrator.cli import main

    code = main(["launch", "--space", space, "--profile", "smoke", "--num-samples", "1",
                 "--storage", str(storage), "--name", "golden", "--seed", str(SEED),
                 "--no-dashboard", "--quiet"])
    if code != 0:
        raise RuntimeError(f"the smoke sweep of {space} exited with {code}")
    df = read_results(storage / "golden", strict=True).sort_values(S.ITERATION)
    keep = [c for c in df.columns if c in COLUMNS or c.startswith("param_")]
    return [{k: _plain(v) for k, v in row.items()} for row in df[keep].to_dict("records")]


def _plain(value: Any) -> Any:
    """JSON-ready: numpy scalars to Python, NaN to None."""
    if hasattr(value, "item"):
        value = value.item()
    return None if isinstance(value, float) and math.isnan(value) else value


def main() -> int:
    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="ERROR",
             log_to_driver=False)
    golden = {}
    for method, space in CASES.items():
        with tempfile.TemporaryDirectory() as storage:
            golden[method] = {"space": space, "rows": sweep_rows(space, Path(storage))}
        print(f"{method}: {len(golden[method]['rows'])} rows", file=sys.stderr)
    ray.shutdown()
    GOLDEN.write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
