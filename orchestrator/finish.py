"""The end of ``launch`` and ``resume``: how the sweep ended, in two or three lines.

A sweep with unfinished trials (Ctrl-C, a killed trial process) says how to resume it and
exits 130; a finished one says where its results are and how to see its fronts; a sweep in
which every trial failed is an error (exit code 1) pointing at the ``error`` column.
"""

from __future__ import annotations

from typing import Any

from analysis import schema as S
from orchestrator.errors import OrchestratorError
from orchestrator.experiment import Experiment
from orchestrator.reconcile import trial_ids


def finish(experiment: Experiment, grid: Any) -> int:
    """Print how the sweep ended; an interrupted sweep says how to resume it."""
    from orchestrator.results import read_rows

    df = read_rows(experiment)
    finished = set(df[df[S.IS_FINAL]][S.TRIAL_ID]) if len(df) else set()
    open_trials = [t for t in trial_ids(grid, experiment.load()["space"]) if t not in finished]
    errors = grid.num_errors
    if open_trials:
        print(f"stopped {experiment.name} with {len(open_trials)} trials unfinished; continue "
              f"with: python -m orchestrator resume {experiment.name}")
        return 130
    print(f"finished {experiment.name}: {len(grid)} trials, {errors} failed; results in "
          f"{experiment.uri}/results")
    print(f"  fronts and report: python -m analysis pareto {experiment.uri}")
    if errors and errors == len(grid):
        raise OrchestratorError(f"all {errors} trials failed; see the `error` column of the "
                                f"results or the trial logs under {experiment.uri}")
    return 0
