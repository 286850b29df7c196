"""Slot-time efficiency of a sweep: how much of the cluster's time goes into the trials' work.

    python benchmarks/sweep_efficiency.py [--trials 16] [--work-s 10] [--slots 2]

Runs the `calibrate` space (trials of fixed CPU work, reporting and checkpointing like real
trials) through the real orchestrator (OptunaSearch, the Parquet writer, checkpoints) on a
local Ray cluster started once, with and without actor reuse, and prints

    efficiency = time inside the work / (slots x wall)

and the per-trial fixed cost = (slots x wall - work) / trials. Ray's start-up is outside the
wall time (it is paid once per sweep, not per trial).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def run_once(storage: Path, name: str, args: argparse.Namespace, reuse: bool) -> dict:
    from analysis import schema as S
    from analysis.io import read_results
    from orchestrator.cli import build_parser
    from orchestrator.launch import launch

    argv = ["launch", "--space", "calibrate", "--num-samples", str(args.trials),
            "--storage", str(storage), "--name", name, "--no-early-stop", "--quiet",
            "--concurrency", str(args.slots), "--set", f"work_s={args.work_s}",
            "--set", f"num_reports={args.reports}", "--seed", "0"]
    argv.append("--reuse-actors" if reuse else "--no-reuse-actors")
    parsed = build_parser().parse_args(argv)
    start = time.perf_counter()
    code = launch(parsed)
    wall = time.perf_counter() - start
    if code != 0:
        raise SystemExit(f"sweep {name} failed with exit code {code}")
    df = read_results(storage / name, strict=True)
    final = df[df[S.IS_FINAL] & (df[S.STATUS] == S.STATUS_COMPLETED)]
    work = float(final[S.TRAIN_TIME_S].sum())
    return {"reuse": reuse, "trials": len(final), "wall": wall, "work": work,
            "efficiency": work / (args.slots * wall),
            "fixed": (args.slots * wall - work) / max(1, len(final))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--work-s", type=float, default=10.0)
    parser.add_argument("--reports", type=int, default=5)
    parser.add_argument("--slots", type=int, default=2)
    args = parser.parse_args()

    import ray

    ray.init(address="local", num_cpus=args.slots, include_dashboard=False,
             logging_level="ERROR", log_to_driver=False)
    storage = Path(tempfile.mkdtemp(prefix="efficiency-"))
    rows = [run_once(storage, f"reuse-{reuse}", args, reuse) for reuse in (False, True)]
    ray.shutdown()
    print(f"# {args.trials} trials x {args.work_s:g} s of work, {args.reports} reports with "
          f"checkpoints each, {args.slots} slots (1 CPU per trial)")
    print(f"{'actor reuse':<12} {'trials':>6} {'wall s':>8} {'work s':>8} {'efficiency':>11} "
          f"{'fixed s/trial':>14}")
    for r in rows:
        print(f"{'on' if r['reuse'] else 'off':<12} {r['trials']:>6} {r['wall']:>8.1f} "
              f"{r['work']:>8.1f} {r['efficiency']:>11.3f} {r['fixed']:>14.2f}")
    print("command: python benchmarks/sweep_efficiency.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
