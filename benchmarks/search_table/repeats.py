"""Run a few configurations of a recorded sweep again with other seeds (the table's noise).

    python benchmarks/search_table/repeats.py --storage /work/search-table-runs \
        search-table-smp-sst2-b60 --trials ID[,ID...] --seeds 1,2

Each (trial, seed) is its own one-trial experiment, ``<experiment>-rep-<trial>-s<seed>``,
run by ``record.sh`` at the table's budget with every searched value pinned by ``--set`` to
the recorded trial's (written with ``repr``, so the exporter matches them exactly) and the
trial seed set. Experiments that already finished are skipped, so rerunning resumes. Export
them with ``export.py ... --repeats NAME ...`` (``--print-names`` lists them).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))


def recorded_params(experiment_dir: Path, trial_id: str) -> dict:
    from analysis import schema as S
    from analysis.io import read_results

    df = read_results(experiment_dir, strict=False)
    rows = df[df[S.TRIAL_ID] == trial_id]
    if rows.empty:
        raise SystemExit(f"error: trial {trial_id!r} is not in {experiment_dir}")
    row = rows.iloc[-1]
    return {c.removeprefix("param_"): _plain(row[c]) for c in df.columns
            if c.startswith("param_") and row[c] == row[c]}


def _plain(value):
    """A Python scalar (numpy's repr is ``np.float64(...)``, which --set cannot parse)."""
    return value.item() if hasattr(value, "item") else value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiment")
    parser.add_argument("--storage", required=True)
    parser.add_argument("--trials", required=True, help="comma-separated trial ids")
    parser.add_argument("--seeds", default="1,2")
    parser.add_argument("--print-names", action="store_true")
    args = parser.parse_args(argv)
    folder = Path(args.storage) / args.experiment
    if not (folder / "experiment.json").is_file():
        print(f"error: {folder} is not an experiment folder", file=sys.stderr)
        return 2
    space = json.loads((folder / "experiment.json").read_text())["space"]
    seeds = [int(s) for s in args.seeds.split(",") if s]
    names = []
    for trial_id in [t for t in args.trials.split(",") if t]:
        params = recorded_params(folder, trial_id)
        for seed in seeds:
            name = f"{args.experiment}-rep-{trial_id}-s{seed}"
            names.append(name)
            if args.print_names:
                continue
            final = Path(args.storage) / name / "results"
            if final.is_dir() and any(final.iterdir()):
                continue  # done: its consolidated rows are in results/
            sets = " ".join(f"--set {k}={v!r}" if isinstance(v, float) else f"--set {k}={v}"
                            for k, v in params.items())
            env = {**os.environ, "NAME": name, "SAMPLER": "random", "SEED": str(seed),
                   "NUM_SAMPLES": "1", "SETS": f"{sets} --set seed={seed}"}
            subprocess.run([str(HERE / "record.sh"), space, args.storage], env=env, check=True)
    print(" ".join(names))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
