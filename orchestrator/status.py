"""``status NAME``: where a sweep stands, readable while it runs (from another terminal).

Reads only the experiment folder: experiment.json, the Parquet results (which the driver writes
as they arrive) and the Optuna journal (trials asked and their states). Nothing here talks to
Ray, so it works on any machine that mounts the storage, during or after the sweep.
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Any

from analysis import schema as S
from analysis.errors import redact  # URIs may hold credentials
from analysis.layout import RESULTS_DIR, TUNE_TRIAL_ATTR
from orchestrator.experiment import Experiment

STATES = (S.STATUS_COMPLETED, S.STATUS_PRUNED, S.STATUS_FAILED, S.STATUS_DIVERGED)


def trial_states(df: Any) -> dict[str, str]:
    """Trial id -> its state: the status of the row the analysis judges it by
    (:func:`analysis.fronts.decisive_rows`) when that row is final, else ``running``."""
    from analysis.fronts import decisive_rows

    rows = decisive_rows(df)
    return {str(trial_id): str(status) if final else S.STATUS_RUNNING
            for trial_id, status, final in zip(rows[S.TRIAL_ID], rows[S.STATUS],
                                               rows[S.IS_FINAL].fillna(False).astype(bool))}


def study_trials(experiment: Experiment) -> list[Any] | None:
    """The study's own trials (not warm-start copies or orphans), by trial number.

    None without a journal; an empty list when the study is not created yet.
    """
    experiment.sync_journal_down()
    if not experiment.journal.is_file():
        return None
    from orchestrator.sweep import journal_storage

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name=experiment.name,
                                  storage=journal_storage(experiment))
    except KeyError:  # the journal exists but the study is not created yet
        return []
    except ValueError:  # a line that is not JSON: status_warnings names it; go on without
        return None
    trials = [t for t in study.get_trials(deepcopy=False)
              if "warm_start" not in t.user_attrs and "orphaned" not in t.user_attrs]
    return sorted(trials, key=lambda t: t.number)


def asked_trials(experiment: Experiment) -> int | None:
    """How many trials the study has handed out (None without a journal)."""
    trials = study_trials(experiment)
    return None if trials is None else len(trials)


def trial_order(df: Any, trials: list[Any] | None) -> list[str]:
    """Trial ids in the order the sweep proposed them (the study's trial numbers), never by
    the random id; trials the study does not know (no journal) follow in row order."""
    order = [str(t.user_attrs[TUNE_TRIAL_ATTR]) for t in trials or []
             if t.user_attrs.get(TUNE_TRIAL_ATTR)]
    known = set(order)
    if len(df):
        order += [str(t) for t in dict.fromkeys(df[S.TRIAL_ID]) if str(t) not in known]
    return order


def trial_numbers(trials: list[Any] | None) -> dict[str, int]:
    """Tune trial id -> the study's trial number (the order the sampler proposed them)."""
    return {str(t.user_attrs[TUNE_TRIAL_ATTR]): t.number for t in trials or []
            if t.user_attrs.get(TUNE_TRIAL_ATTR)}


def _number(numbers: dict[str, int], trial_id: str) -> str:
    return f"#{numbers[trial_id]} " if trial_id in numbers else ""


def sweep_seconds(trials: list[Any] | None, now: float | None = None) -> float | None:
    """Seconds during which the sweep had a trial running: the union of the study trials'
    [start, end] spans (a running trial ends now). Pauses between a stop and a `resume`
    do not count, nor the time before the first trial; None without study trials."""
    now = time.time() if now is None else now
    spans = []
    for t in trials or []:
        if t.datetime_start is None:
            continue
        end = t.datetime_complete.timestamp() if t.datetime_complete else now
        spans.append((t.datetime_start.timestamp(), max(end, t.datetime_start.timestamp())))
    if not spans:
        return None
    total, (cur_start, cur_end) = 0.0, sorted(spans)[0]
    for start, end in sorted(spans)[1:]:
        if start > cur_end:
            total += cur_end - cur_start
            cur_start, cur_end = start, end
        else:
            cur_end = max(cur_end, end)
    return total + cur_end - cur_start


def front_so_far(df: Any, objectives: list[tuple[str, str]]) -> tuple[Any, float, dict]:
    """(front rows, hypervolume, reference point) of the completed trials: the analysis's
    front of the sweep's task (:func:`analysis.fronts.pareto_fronts`) and its hypervolume
    against the analysis's reference point."""
    from analysis.fronts import ON_TASK_FRONT, pareto_fronts
    from analysis.hypervolume import hypervolume, reference_point
    from analysis.pareto import to_minimization

    objs = dict(objectives)
    done = pareto_fronts(df, objs, group_by=()).points
    if done.empty:
        return done, 0.0, {}
    task = done[S.TASK].iloc[0]
    ref = reference_point(done, objs, task).point
    front = done[done[ON_TASK_FRONT]].sort_values(list(objs)[-1], kind="stable")
    reference = to_minimization(_frame(ref), objs)[0]
    return front, hypervolume(to_minimization(front, objs), reference), ref


def _frame(point: dict) -> Any:
    import pandas as pd

    return pd.DataFrame([point])


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def status_warnings(experiment: Experiment, trials: list[Any] | None,
                    states: dict[str, str]) -> list[str]:
    """What status cannot show faithfully, named: a damaged journal, missing result folders,
    trials the journal has finished but no row records."""
    from analysis.layout import ROWS_DIR

    from orchestrator.state_check import journal_problem

    found = []
    problem = journal_problem(experiment.journal)
    if problem is not None:
        found.append(f"the Optuna journal {experiment.journal} is damaged: {problem}; "
                     "the counts below may miss trials")
    storage = experiment.storage
    missing = [folder for folder in (RESULTS_DIR, ROWS_DIR)
               if not storage.exists(storage.join(experiment.name, folder))]
    if trials and len(missing) == 2:
        found.append(f"{redact(experiment.uri)} has neither {RESULTS_DIR}/ nor {ROWS_DIR}/ "
                     f"although the journal lists {len(trials)} trials: their result rows "
                     "are gone (deleted or moved?), so they are shown as running")
    finished = [t for t in trials or [] if t.state.is_finished()
                and str(t.user_attrs.get(TUNE_TRIAL_ATTR, "")) not in states]
    if finished and len(missing) < 2:
        found.append(f"{len(finished)} trials the journal has finished have no result row "
                     f"in {redact(experiment.uri)}/{RESULTS_DIR} (files deleted or not written)")
    return found


def status(args: argparse.Namespace) -> int:
    import sys

    experiment = Experiment.find(args.storage, args.name)
    record = experiment.load()
    from orchestrator.results import read_rows

    df = read_rows(experiment)
    objectives = [tuple(o) for o in record.get("objectives", [["score", "max"]])]
    requested = int(record.get("num_samples", 0))
    concurrency = int(record.get("concurrency", 1)) or 1
    states = trial_states(df) if len(df) else {}
    counts = {s: sum(1 for v in states.values() if v == s) for s in (*STATES, S.STATUS_RUNNING)}
    trials = study_trials(experiment)
    for warning in status_warnings(experiment, trials, states):
        print(f"warning: {warning}", file=sys.stderr)
    asked = None if trials is None else len(trials)
    started = max(len(states), asked or 0)
    counts[S.STATUS_RUNNING] += max(0, started - len(states))  # asked, no row yet
    not_started = max(0, requested - started)
    print(f"experiment {experiment.name}: space {record.get('space')}, profile "
          f"{record.get('profile')}, {requested} trials requested, {concurrency} at a time")
    print("trials     " + ", ".join(f"{counts[s]} {s}" for s in (*STATES, S.STATUS_RUNNING))
          + f", {not_started} not started")
    order = trial_order(df, trials)
    numbers = trial_numbers(trials)
    _print_running(df, states, order, numbers, record)
    _print_front(df, objectives, record, numbers)
    _print_time(df, record, counts, not_started, concurrency, sweep_seconds(trials))
    return 0


def _print_running(df: Any, states: dict[str, str], order: list[str], numbers: dict[str, int],
                   record: dict) -> None:
    """One line per running trial, named as in the log prefixes, with its latest row."""
    running = [t for t in order if states.get(t) == S.STATUS_RUNNING]
    if not running:
        return
    print("running")
    space = record.get("space")
    for trial_id in running:
        last = df[df[S.TRIAL_ID] == trial_id].sort_values(S.ITERATION).iloc[-1]
        values = ", ".join(f"{label} {_short(last[col])}" for label, col in
                           (("step", S.STEP), ("score", S.SCORE),
                            ("sparsity", S.WEIGHT_SPARSITY))
                           if col in last and last[col] == last[col] and last[col] is not None)
        elapsed = last[S.ELAPSED_S]
        since = f", {_clock(elapsed)} in" if elapsed == elapsed and elapsed is not None else ""
        print(f"  {_number(numbers, trial_id)}{space}_{trial_id}  {values or 'no row yet'}"
              f"{since}")


def _print_front(df: Any, objectives: list[tuple[str, str]], record: dict,
                 numbers: dict[str, int] | None = None) -> None:
    if df.empty or any(m not in df for m, _ in objectives):
        print("front      no completed trial yet")
        return
    front, hv, ref = front_so_far(df, objectives)
    if front.empty:
        print("front      no completed trial yet")
        return
    reference = ", ".join(f"{k}={v:.4g}" for k, v in ref.items())
    print(f"front      {len(front)} points, hypervolume {hv:.4g} (reference {reference})")
    params = [c for c in front.columns if c.startswith(S.PARAM_PREFIX)]
    for _, row in front.iterrows():
        values = "  ".join(f"{m}={row[m]:.4f}" for m, _ in objectives)
        hp = ", ".join(f"{c.removeprefix(S.PARAM_PREFIX)}={_short(row[c])}" for c in params)
        print(f"  {values}  trial {_number(numbers or {}, row[S.TRIAL_ID])}"
              f"{row[S.TRIAL_ID]}  {hp}")


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _print_time(df: Any, record: dict, counts: dict, not_started: int,
                concurrency: int, seconds: float | None = None) -> None:
    # Time the sweep had trials running (from the study), not since the folder was created;
    # without a journal, the longest trial's elapsed time is the best lower bound there is.
    used = seconds if seconds is not None else \
        (float(df[S.ELAPSED_S].max()) if len(df) and df[S.ELAPSED_S].notna().any() else 0.0)
    finished = sum(counts[s] for s in STATES)
    if not_started == 0 and counts[S.STATUS_RUNNING] == 0:
        print(f"time       {_clock(used)} used; the sweep has finished")
        return
    durations = S.completed_final_rows(df)[S.ELAPSED_S] if len(df) else []
    if finished == 0 or len(durations) == 0:
        print(f"time       {_clock(used)} used; no trial finished yet to estimate the rest")
        return
    mean = float(durations.mean())
    waves = math.ceil((not_started + counts[S.STATUS_RUNNING] * 0.5) / concurrency)
    print(f"time       {_clock(used)} used, about {_clock(waves * mean)} left (mean trial "
          f"{_clock(mean)}, {concurrency} at a time)")
