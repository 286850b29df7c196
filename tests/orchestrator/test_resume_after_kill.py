"""The driver killed with SIGKILL mid-sweep, then `resume`: nothing lost, nothing doubled."""

from __future__ import annotations

import os
import signal

import optuna

from analysis import schema as S
from tests.orchestrator.helpers import (
    lost_and_duplicated, result_rows, start_cli, study_of, wait_for,
)

SMOKE = ["--space", "dense_sst2", "--profile", "smoke", "--no-dashboard", "--num-cpus", "2",
         "--set", "max_steps=12", "--set", "eval_every=3", "--no-early-stop"]


def test_sigkill_driver_then_resume(tmp_path):
    storage, name, n = tmp_path / "exps", "killed", 5
    exp = storage / name
    proc = start_cli("launch", *SMOKE, "--num-samples", str(n), "--storage", str(storage),
                     "--name", name, "--seed", "3", log=tmp_path / "launch.log")
    # Kill the driver once some trials reported but before the sweep could finish.
    wait_for(lambda: len(list((exp / "_rows").glob("*.parquet"))) >= 3, 180,
             "the first results")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)
    before = result_rows(exp)
    assert before[S.IS_FINAL].sum() < n, "the sweep finished before the kill; test is void"

    proc = start_cli("resume", name, "--storage", str(storage), "--no-dashboard",
                     "--num-cpus", "2", log=tmp_path / "resume.log")
    assert proc.wait(400) == 0, (tmp_path / "resume.log").read_text()[-3000:]

    df = result_rows(exp)
    completed = df[df[S.IS_FINAL] & (df[S.STATUS] == S.STATUS_COMPLETED)]
    tune_trials = set(completed[S.TRIAL_ID])
    orphans = set(df[df[S.ERROR].fillna("").str.contains("driver stopped")][S.TRIAL_ID])
    # Known gap (Ray Tune 2.60): num_to_keep=2 deletes a trial's oldest checkpoint when a new
    # one registers, and the experiment snapshot that still names it is forced only on the
    # controller's next step. A SIGKILL in between (this test kills right as rows land) makes
    # resume fail that trial once ("does not exist on storage anymore"); it is retried and
    # completes, and analysis judges it by that completed row. Its failed row is set aside
    # here, and only there.
    stale = df[df[S.ERROR].fillna("").str.contains("does not exist on storage anymore")]
    checked = df.drop(index=stale.index)
    assert len(tune_trials) == n, df[[S.TRIAL_ID, S.ITERATION, S.STATUS]].to_string()
    lost, duplicated = lost_and_duplicated(checked[~checked[S.TRIAL_ID].isin(orphans)], n)
    assert (lost, duplicated) == (0, 0)
    # Every row written before the kill is still there, unchanged in number.
    assert set(zip(before[S.TRIAL_ID], before[S.ITERATION])) <= set(zip(df[S.TRIAL_ID],
                                                                         df[S.ITERATION]))

    study = study_of(exp)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert {t.user_attrs["tune_trial_id"] for t in complete} == tune_trials
    assert not [t for t in study.trials if t.state == optuna.trial.TrialState.RUNNING]


def test_an_nsga2_sweep_killed_and_resumed_continues_its_study(tmp_path):
    # Optuna 5.1's NSGA-II holds a lock: the searcher Ray checkpoints must still pickle, and
    # the resumed sampler must go on from the study's generations.
    storage, name, n = tmp_path / "exps", "nsga", 10  # population 8: generations 0 and 1
    exp = storage / name
    common = ["--storage", str(storage), "--no-dashboard", "--num-cpus", "1"]
    proc = start_cli("launch", "--space", "calibrate", "--sampler", "nsga2", "--seed", "0",
                     "--num-samples", str(n), "--name", name, "--no-early-stop",
                     "--set", "work_s=1", "--set", "num_reports=2", *common,
                     log=tmp_path / "launch.log")

    def finished_trials() -> int:
        rows = list((exp / "_rows").glob("*.parquet"))
        return len(rows) >= 2 and int(result_rows(exp)[S.IS_FINAL].sum())

    wait_for(lambda: finished_trials() >= 2, 240, "two finished trials")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)
    assert result_rows(exp)[S.IS_FINAL].sum() < n, "the sweep finished before the kill"

    proc = start_cli("resume", name, *common, log=tmp_path / "resume.log")
    assert proc.wait(400) == 0, (tmp_path / "resume.log").read_text()[-3000:]
    study = study_of(exp)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == n
    generations = [t.system_attrs["NSGAIISampler:generation"] for t in complete]
    assert generations == [0] * 8 + [1] * 2, generations
