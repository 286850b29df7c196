"""The live check of the search-efficiency benchmark: real sweeps scored like simulated ones.

    python benchmarks/search_table/live_check.py --storage /work/search-table-runs \
        --table benchmarks/search_table/smp_sst2.csv EXPERIMENT [EXPERIMENT ...]

For each experiment (a real sweep of the table's space at the table's budget, e.g. one with
the space's default sampler and one with ``--sampler random``, run by ``live_check.sh``) it
takes the trials in the order the sampler proposed them (the study's trial numbers), and
reports what ``search_efficiency.py`` reports for a simulated run: the hypervolume of the
completed trials after n trials as a fraction of the table's reference hypervolume (same
reference point: the task's chance-level score, sparsity 0), the trials and compute seconds
to reach 95% of it, and how many trials early stopping ended. If the surrogate is honest, the
live figures fall inside the simulated spread of the same sampler.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
for _path in (REPO, REPO / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))


def outcomes(experiment_dir: Path) -> list:
    """One :class:`search_efficiency.TrialOutcome` per ended trial, in proposal order."""
    from analysis import schema as S
    from analysis.io import read_results
    from orchestrator.experiment import Experiment
    from orchestrator.status import study_trials, trial_order
    from search_efficiency import TrialOutcome

    df = read_results(experiment_dir, strict=False)
    experiment = Experiment.open(str(experiment_dir.parent), experiment_dir.name)
    order = trial_order(df, study_trials(experiment))
    result = []
    for trial_id in order:
        rows = df[df[S.TRIAL_ID] == trial_id].sort_values([S.STEP, S.ITERATION])
        final = rows[rows[S.IS_FINAL].fillna(False).astype(bool)]
        if final.empty:
            continue  # still running, or lost before its first report
        last = final.iloc[-1]
        completed = last[S.STATUS] == S.STATUS_COMPLETED
        total = float(rows[S.STEP].max() or 1)
        result.append(TrialOutcome(
            score=float(last[S.SCORE]), sparsity=float(last[S.WEIGHT_SPARSITY]),
            completed=completed, cost_s=float(rows[S.ELAPSED_S].max()),
            stopped_at=None if completed else float(last[S.STEP]) / total))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiments", nargs="+")
    parser.add_argument("--storage", required=True)
    parser.add_argument("--table", required=True, help="the space's recorded table (CSV)")
    args = parser.parse_args(argv)

    import search_spaces
    from analysis.hypervolume import chance_level
    from search_efficiency import CHECKPOINTS, run_metrics, table_reference
    from search_surrogate import load_table

    table_path = Path(args.table)
    if not table_path.is_file():
        print(f"error: --table {args.table!r} is not a file", file=sys.stderr)
        return 2
    table = load_table(table_path)
    space = search_spaces.get_space(str(table["space"].iloc[0]))
    reference_score = chance_level(space.fixed.get("task")) or 0.0
    reference_hv = table_reference(table, reference_score)
    print(f"# {space.name}: reference hypervolume {reference_hv:.4f} (the table's front; "
          f"reference point score {reference_score:g}, sparsity 0)")
    print("| experiment | sampler | trials | " + " | ".join(f"HV@{c}" for c in CHECKPOINTS
                                                         if c <= 16)
          + " | final HV | trials to 95% | compute s to 95% | compute s | stopped early |")
    print("|---|---|---|" + "---|" * (len([c for c in CHECKPOINTS if c <= 16]) + 5))
    status = 0
    for name in args.experiments:
        folder = Path(args.storage) / name
        if not (folder / "experiment.json").is_file():
            print(f"error: {folder} is not an experiment folder", file=sys.stderr)
            status = 2
            continue
        sampler = json.loads((folder / "experiment.json").read_text()).get("sampler")
        runs = outcomes(folder)
        if not runs:
            print(f"| {name} | {sampler} | 0 | no ended trial yet |")
            continue
        m = run_metrics(runs, reference_hv, reference_score,
                        checkpoints=[c for c in CHECKPOINTS if c <= 16])
        hv = " | ".join(f"{m['hv'][c]:.3f}" if c in m["hv"] else "-"
                        for c in CHECKPOINTS if c <= 16)
        to_target = m["trials_to_target"] or f"> {len(runs)}"
        compute = (f"{m['compute_to_target']:.0f}" if m["compute_to_target"] is not None
                   else "-")
        print(f"| {name} | {sampler} | {len(runs)} | {hv} | {m['final_hv']:.3f} | "
              f"{to_target} | {compute} | {m['compute']:.0f} | {m['stopped']} |")
    return status


if __name__ == "__main__":
    raise SystemExit(main())
