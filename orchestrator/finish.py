"""The end of ``launch`` and ``resume``: how the sweep ended, in two or three lines.

A sweep that was interrupted (Ctrl-C) or has unfinished trials (a killed trial process)
says how to resume it and exits 130; a finished one says where its results are and how to
see its fronts; a sweep in which every trial failed is an error (exit code 1) pointing at
the ``error`` column.
"""

from __future__ import annotations

from typing import Any

from analysis import schema as S
from analysis.errors import redact  # a --storage URI's ?secret_key=... stays off the console
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
    from orchestrator.interrupts import interrupted

    # An interrupt is reported as one even when no started trial is left open: the sweep
    # may not have asked for all its trials yet.
    if interrupted() or open_trials:
        how = "interrupted" if interrupted() else "stopped"
        print(f"stopped {experiment.name} ({how}) with {len(open_trials)} trials unfinished; "
              f"continue with: python -m orchestrator resume {experiment.name}")
        return 130
    record = experiment.load()
    completed = completed_trials(df)
    print(f"finished {experiment.name}: {len(grid)} trials, {completed} completed, {errors} "
          f"failed; results in {redact(experiment.uri)}/results")
    budget = budget_note(record, completed, errors)
    if budget:
        print(f"  {budget}")
    collapse = collapse_note(df)
    if collapse:
        print(f"  {collapse}")
    confirms = record.get("confirms")
    if isinstance(confirms, dict) and confirms.get("experiment"):
        # a confirmation is read through the experiment it confirms (analysis.confirmed)
        source = experiment.storage.uri(experiment.storage.join(confirms["experiment"]))
        print(f"  confirmed points: python -m analysis pareto {redact(source)} (and "
              f"analysis table {redact(source)})")
    else:
        print(f"  fronts and report: python -m analysis pareto {redact(experiment.uri)}")
    if errors and errors == len(grid):
        raise OrchestratorError(f"all {errors} trials failed; see the `error` column of the "
                                f"results or the trial logs under {experiment.uri}")
    return 0


def completed_trials(df: Any) -> int:
    """Trials whose final row says completed (stopped, failed and diverged ones do not)."""
    if not len(df):
        return 0
    finals = df[df[S.IS_FINAL].fillna(False).astype(bool)]
    return int(finals[finals[S.STATUS] == S.STATUS_COMPLETED][S.TRIAL_ID].nunique())


def collapse_note(df: Any) -> str | None:
    """One line when most completed trials collapsed to the majority-class score (their
    ``collapsed`` flag): their fronts are empty by default, and a report of such a sweep
    would look like a result. None otherwise (and for rows written before the flag)."""
    if not len(df) or S.COLLAPSED not in df:
        return None
    finals = df[df[S.IS_FINAL].fillna(False).astype(bool)
                & (df[S.STATUS] == S.STATUS_COMPLETED)].drop_duplicates(S.TRIAL_ID, keep="last")
    flagged = finals[finals[S.COLLAPSED].notna()]
    collapsed = flagged[flagged[S.COLLAPSED].astype(bool)]
    if not len(flagged) or 2 * len(collapsed) <= len(flagged):
        return None
    majority = collapsed[S.MAJORITY_SCORE].dropna()
    rows = collapsed[S.EVAL_EXAMPLES].dropna()
    at = (f" ({majority.iloc[0]:.4g} on {int(rows.iloc[0])} evaluated rows)"
          if len(majority) and len(rows) else "")
    return (f"warning: {len(collapsed)} of {len(flagged)} completed trials collapsed to the "
            f"majority-class score{at}: they answer like a constant predictor, so the fronts "
            "leave them out. Usually the budget is too small for the model to learn "
            "(raise max_steps or max_train_examples, or use a profile that learns) or too "
            "few rows are evaluated to tell it from a constant (max_eval_examples); "
            "analysis pareto --include-collapsed draws them anyway")


def budget_note(record: dict, completed: int, failed: int) -> str | None:
    """Why a sweep with a ``--time-budget`` ended short, or None: "finished: 2 trials, 0
    failed" used to hide that the budget had stopped every trial before it completed."""
    import time

    budget, requested = record.get("time_budget_s"), record.get("num_samples")
    created = record.get("created")
    if not isinstance(budget, (int, float)) or not isinstance(requested, int):
        return None
    ran_out = isinstance(created, (int, float)) and time.time() - created >= budget
    if not ran_out or completed + failed >= requested:
        return None
    return (f"the time budget (--time-budget {budget:g} s) stopped the sweep: {completed} of "
            f"{requested} trials completed")
