"""Golden report rows: one smoke-profile trial per method, recorded before a refactor.

A refactor of the trainables must not change a result row for the same seed. Each case runs
the trainable's ``run(config, report)`` on the config the smoke profile gives its space (the
searched values fixed at the middle of their ranges), records every report, and compares it
with ``golden_rows.json`` (written by ``python -m tests.trainables.golden_rows`` on the code
before the refactor, and committed before it).

Comparison: integers, booleans, strings and the sparsity / parameter-count columns exactly;
other floats (losses, scores, correlations) with ``rtol=1e-4``: the tiny model trains in fp32
for 4 steps, where another CPU's kernels (AVX2 vs AVX-512 reductions, another oneDNN) move
results by ~1e-6 relative, while any change of the computation (a loss term, a threshold,
a batch) moves them by far more than 1e-4. Wall-clock columns are skipped.
"""

from __future__ import annotations

import json
import math
import sys
import tempfile
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).with_name("golden_rows.json")

# one smoke-profile space per method; CAP-m is the top-k space, CAP-soft the soft one
CASES = {"dense": "dense_sst2", "smp": "smp_sst2", "cap-m": "cap_topk_sst2",
         "cap-soft": "cap_soft_sst2"}
# The smoke trials barely move the tiny model (lr 3e-5, 4 steps: losses stay near ln 2 to
# 1e-5), so each method runs a second time where training shows: a learning rate of 1e-2 (Adam moves each weight by about that per step),
# two epochs (CAP's snapshot bank at the epoch start) and evaluations mid-schedule.
TRAINED = {"learning_rate": 1e-2, "max_steps": 8, "eval_every": 3}
TRAINED_CAP = {**TRAINED, "warmup_steps": 1}
TIMING = {"elapsed_s", "train_time_s", "examples_per_s"}  # wall clock: never equal
EXACT_FLOATS = {"weight_sparsity", "head_sparsity"}  # counts, not arithmetic on weights
RTOL = 1e-4


def _middle(suggestion: Any) -> Any:
    if suggestion.kind == "categorical":
        return suggestion.choices[0]
    low, high = suggestion.low, suggestion.high
    if suggestion.kind == "int":
        return (low + high) // 2
    return math.sqrt(low * high) if suggestion.log else (low + high) / 2


def smoke_config(space_name: str) -> tuple[str, dict[str, Any]]:
    """``(trainable, config)`` of a smoke trial of ``space_name``, searched values mid-range."""
    import search_spaces

    space = search_spaces.get_space(space_name)
    settings = space.settings("smoke")
    chosen = {name: _middle(s) for name, s in space.suggestions().items()}
    return space.trainable, {**chosen, **settings, "num_threads": 1}


def cases() -> dict[str, tuple[str, str, dict[str, Any]]]:
    """``name -> (space, trainable, config)`` of every golden case."""
    out = {}
    for method, space in CASES.items():
        trainable, config = smoke_config(space)
        out[method] = (space, trainable, config)
        overrides = TRAINED_CAP if trainable == "cap" else TRAINED
        out[f"{method}-trained"] = (space, trainable, {**config, **overrides})
    return out


def checkpoint_summary(directory: Path | None) -> dict[str, Any]:
    """The files of a reported checkpoint and the L2 norm of its model weights."""
    if directory is None:
        return {"_checkpoint_files": None}
    from safetensors.torch import load_file

    files = sorted(str(p.relative_to(directory)) for p in Path(directory).rglob("*")
                   if p.is_file())
    weights = load_file(str(Path(directory) / "model.safetensors"))
    norm = math.sqrt(sum(float(t.double().pow(2).sum()) for t in weights.values()))
    return {"_checkpoint_files": files, "_weights_l2": norm}


def run_rows(trainable: str, config: dict[str, Any], storage: Path) -> list[dict[str, Any]]:
    """Every report of one trial (timing columns dropped) with its checkpoint's summary."""
    from trainables import run_function

    rows: list[dict[str, Any]] = []

    def report(metrics: Any, checkpoint_dir: Path | None = None) -> None:
        rows.append({**{k: v for k, v in metrics.items() if k not in TIMING},
                     **checkpoint_summary(checkpoint_dir)})

    run_function(trainable)({**config, "storage_root": str(storage)}, report)
    return rows


def differences(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> list[str]:
    """What differs between two lists of rows, one line per difference (empty: equal)."""
    if len(got) != len(want):
        return [f"{len(got)} reports, golden has {len(want)}"]
    out = []
    for index, (row, gold) in enumerate(zip(got, want)):
        if set(row) != set(gold):
            out.append(f"report {index}: columns differ: +{sorted(set(row) - set(gold))} "
                       f"-{sorted(set(gold) - set(row))}")
        for key in sorted(set(row) & set(gold)):
            a, b = row[key], gold[key]
            same = (math.isclose(a, b, rel_tol=RTOL, abs_tol=1e-9)
                    if isinstance(b, float) and key not in EXACT_FLOATS
                    and isinstance(a, (int, float)) else a == b and type(a) is type(b))
            if not same:
                out.append(f"report {index}: {key} = {a!r}, golden {b!r}")
    return out


def main() -> int:
    """Record the golden rows of every case (run on the code before a refactor)."""
    golden = {}
    for name, (space, trainable, config) in cases().items():
        with tempfile.TemporaryDirectory() as storage:
            rows = run_rows(trainable, config, Path(storage))
        golden[name] = {"space": space, "trainable": trainable, "config": config,
                        "rows": rows}
        print(f"{name}: {len(rows)} reports", file=sys.stderr)
    GOLDEN.write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
