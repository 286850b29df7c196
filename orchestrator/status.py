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
from orchestrator.experiment import Experiment
from orchestrator.resume import _experiment

STATES = (S.STATUS_COMPLETED, S.STATUS_PRUNED, S.STATUS_FAILED, S.STATUS_DIVERGED)


def trial_states(df: Any) -> dict[str, str]:
    """Trial id -> its state: the status of its final row, else ``running``."""
    states: dict[str, str] = {}
    for trial_id, rows in df.groupby(S.TRIAL_ID):
        final = rows[rows[S.IS_FINAL]]
        states[str(trial_id)] = (str(final.iloc[-1][S.STATUS]) if len(final)
                                 else S.STATUS_RUNNING)
    return states


def asked_trials(experiment: Experiment) -> int | None:
    """How many trials the study has handed out (None without a journal)."""
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
        return 0
    return sum(1 for t in study.get_trials(deepcopy=False)
               if "warm_start" not in t.user_attrs and "orphaned" not in t.user_attrs)


def front_so_far(df: Any, objectives: list[tuple[str, str]]) -> tuple[Any, float, dict]:
    """(front rows, hypervolume, reference point) of the completed trials."""
    from analysis.hypervolume import hypervolume, reference_point
    from analysis.pareto import pareto_mask, to_minimization

    objs = dict(objectives)
    done = df[df[S.IS_FINAL] & (df[S.STATUS] == S.STATUS_COMPLETED)]
    done = done.dropna(subset=list(objs))
    if done.empty:
        return done, 0.0, {}
    task = done[S.TASK].iloc[0] if S.TASK in done else None
    ref = reference_point(done, objs, task).point
    front = done[pareto_mask(done, objs)].sort_values(list(objs)[-1])
    reference = to_minimization(_frame(ref), objs)[0]
    return front, hypervolume(to_minimization(front, objs), reference), ref


def _frame(point: dict) -> Any:
    import pandas as pd

    return pd.DataFrame([point])


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def status(args: argparse.Namespace) -> int:
    experiment = _experiment(args)
    record = experiment.load()
    from orchestrator.results import read_rows

    df = read_rows(experiment)
    objectives = [tuple(o) for o in record.get("objectives", [["score", "max"]])]
    requested = int(record.get("num_samples", 0))
    concurrency = int(record.get("concurrency", 1)) or 1
    states = trial_states(df) if len(df) else {}
    counts = {s: sum(1 for v in states.values() if v == s) for s in (*STATES, S.STATUS_RUNNING)}
    asked = asked_trials(experiment)
    started = max(len(states), asked or 0)
    counts[S.STATUS_RUNNING] += max(0, started - len(states))  # asked, no row yet
    not_started = max(0, requested - started)
    print(f"experiment {experiment.name}: space {record.get('space')}, profile "
          f"{record.get('profile')}, {requested} trials requested, {concurrency} at a time")
    print("trials     " + ", ".join(f"{counts[s]} {s}" for s in (*STATES, S.STATUS_RUNNING))
          + f", {not_started} not started")
    _print_front(df, objectives, record)
    _print_time(df, record, counts, not_started, concurrency)
    return 0


def _print_front(df: Any, objectives: list[tuple[str, str]], record: dict) -> None:
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
        print(f"  {values}  trial {row[S.TRIAL_ID]}  {hp}")


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _print_time(df: Any, record: dict, counts: dict, not_started: int,
                concurrency: int) -> None:
    used = time.time() - float(record.get("created", time.time()))
    finished = sum(counts[s] for s in STATES)
    if not_started == 0 and counts[S.STATUS_RUNNING] == 0:
        print(f"time       {_clock(used)} used; the sweep has finished")
        return
    durations = df[df[S.IS_FINAL] & (df[S.STATUS] == S.STATUS_COMPLETED)][S.ELAPSED_S] \
        if len(df) else []
    if finished == 0 or len(durations) == 0:
        print(f"time       {_clock(used)} used; no trial finished yet to estimate the rest")
        return
    mean = float(durations.mean())
    waves = math.ceil((not_started + counts[S.STATUS_RUNNING] * 0.5) / concurrency)
    print(f"time       {_clock(used)} used, about {_clock(waves * mean)} left (mean trial "
          f"{_clock(mean)}, {concurrency} at a time)")
