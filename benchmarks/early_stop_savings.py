"""What multi-objective early stopping saves: the same sweep with and without it.

    python benchmarks/early_stop_savings.py --space dense_mrpc --profile dev \
        --data-dir ../shared/data/glue/parquet --num-samples 8 [--set key=value ...]
        [--storage DIR]

Runs the sweep twice on one local Ray cluster with the same sampler seed, once with the
Pareto-rung scheduler and once with ``--no-early-stop``, and prints for each: trials completed
and stopped, the training compute used (sum of the trials' train_time_s), the wall time, and
the hypervolume of the final front (reference: sparsity 0 and the task's chance score).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def sweep(storage: Path, name: str, args: argparse.Namespace, early_stop: bool) -> dict:
    from analysis import schema as S
    from analysis.io import read_results
    from orchestrator.cli import build_parser
    from orchestrator.launch import launch
    from orchestrator.status import front_so_far

    argv = ["launch", "--space", args.space, "--profile", args.profile, "--num-samples",
            str(args.num_samples), "--storage", str(storage), "--name", name, "--seed",
            str(args.seed), "--quiet", *sum((["--set", s] for s in args.set), [])]
    if args.data_dir:
        argv += ["--data-dir", args.data_dir]
    if not early_stop:
        argv.append("--no-early-stop")
    start = time.perf_counter()
    if launch(build_parser().parse_args(argv)) != 0:
        raise SystemExit(f"sweep {name} failed")
    wall = time.perf_counter() - start
    df = read_results(storage / name, strict=True)
    final = df[df[S.IS_FINAL]]
    import search_spaces

    objectives = search_spaces.get_space(args.space).objectives
    _, hv, _ = front_so_far(df, list(objectives))
    return {"early_stop": early_stop, "completed": int((final[S.STATUS] == "completed").sum()),
            "stopped": int((final[S.STATUS] == "pruned").sum()),
            "compute": float(final[S.TRAIN_TIME_S].fillna(0).sum()), "wall": wall, "hv": hv,
            "best": float(final[final[S.STATUS] == "completed"][S.SCORE].max())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--space", default="dense_mrpc")
    parser.add_argument("--profile", default="dev")
    parser.add_argument("--data-dir", default=str(REPO.parent / "shared/data/glue/parquet"))
    parser.add_argument("--num-samples", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--num-cpus", type=int, default=2)
    parser.add_argument("--storage", help="default: a new temporary folder; give an earlier "
                        "one to reuse its shared artifacts (teacher, SMP pruner)")
    args = parser.parse_args()

    import ray

    ray.init(address="local", num_cpus=args.num_cpus, include_dashboard=False,
             logging_level="ERROR", log_to_driver=False)
    storage = Path(args.storage or tempfile.mkdtemp(prefix="early-stop-"))
    stamp = time.strftime("%H%M%S")
    rows = [sweep(storage, f"es-{stamp}-{'on' if flag else 'off'}", args, flag)
            for flag in (True, False)]
    ray.shutdown()
    on, off = rows
    print(f"# {args.space} ({args.profile}), {args.num_samples} trials, seed {args.seed}, "
          f"{' '.join(args.set)}")
    print(f"{'early stop':<11} {'completed':>9} {'stopped':>8} {'compute s':>10} {'wall s':>8} "
          f"{'best score':>10} {'hypervolume':>12}")
    for r in rows:
        print(f"{'on' if r['early_stop'] else 'off':<11} {r['completed']:>9} {r['stopped']:>8} "
              f"{r['compute']:>10.0f} {r['wall']:>8.0f} {r['best']:>10.4f} {r['hv']:>12.4f}")
    print(f"compute saved: {1 - on['compute'] / off['compute']:.1%}; hypervolume kept: "
          f"{on['hv'] / off['hv']:.1%}" if off["hv"] else "")
    print("command: python benchmarks/early_stop_savings.py " + " ".join(sys.argv[1:]))


if __name__ == "__main__":
    main()
