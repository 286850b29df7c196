"""Console progress, the in-training heartbeat, --log-to, status' trial order and time,
did-you-mean for --profile/--sampler, and `python -m orchestrator` alone."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from orchestrator.cli import main
from orchestrator.console import plain_console
from orchestrator.progress import ConsoleProgress, SweepClock, TrialProgress, finished_line
from orchestrator.status import sweep_seconds, trial_numbers, trial_order
from trainables.heartbeat import Heartbeat

REPO = Path(__file__).resolve().parents[2]


def _trial(trial_id: str, config: dict | None = None) -> SimpleNamespace:
    return SimpleNamespace(trial_id=trial_id, config=config or {}, last_result=None)


def test_live_line_names_the_trial_and_shows_step_score_sparsity_and_eta(capsys):
    progress = ConsoleProgress("cap_soft_qqp", ["final_lambda"], ["score", "weight_sparsity"],
                               num_samples=4, concurrency=2)
    a, b = _trial("aaaa0001", {"final_lambda": 300.0}), _trial("bbbb0002")
    progress.on_trial_start(0, [], a)
    progress.on_trial_start(0, [], b)
    progress.on_trial_result(0, [], a, {"step": 100, "total_steps": 400, "score": 0.71,
                                        "weight_sparsity": 0.45, "elapsed_s": 50.0})
    line = capsys.readouterr().out.strip()
    assert line.startswith("[0/4 done, 2 running] cap_soft_qqp_aaaa0001 step 100/400 "
                           "score 0.7100 sparsity 0.4500, ETA ")
    # a: 150 s left at its pace; b unknown and two waiting take a 200 s trial each; 2 slots.
    assert progress.sweep.eta_s() == pytest.approx((150 + 3 * 200) / 2)
    assert "\x1b[" not in line

    a.last_result = {"is_final": True, "score": 0.7, "weight_sparsity": 0.5}
    progress.sweep.running["aaaa0001"].started -= 190.0  # it started 190 s ago
    progress.on_trial_complete(0, [], a)
    done = capsys.readouterr().out.strip()
    assert done.startswith("[1/4] trial cap_soft_qqp_aaaa0001 done: score=0.7 "
                           "weight_sparsity=0.5 (final_lambda=300) 190s, ETA ")


def test_progress_line_has_no_empty_parentheses_when_nothing_is_searched():
    line = finished_line(1, 1, "dense_sst2_x", "done", {"score": 0.8}, ["score"], {}, 12.0,
                         None)
    assert line == "[1/1] trial dense_sst2_x done: score=0.8 12s"
    assert "()" not in line


def test_eta_is_unknown_until_a_trial_has_stepped():
    clock = SweepClock(num_samples=3, concurrency=1)
    clock.running["t"] = TrialProgress(started=0.0)
    assert clock.eta_s() is None
    clock.running["t"].step, clock.running["t"].total, clock.running["t"].elapsed_s = 1, 4, 10.0
    assert clock.eta_s() == pytest.approx(30 + 2 * 40)


def test_heartbeat_prints_progress_between_evaluations():
    now = [0.0]
    lines: list[str] = []
    beat = Heartbeat("dense", total=500, eval_every=100, interval_s=30,
                     clock=lambda: now[0], emit=lines.append)
    for step in range(1, 121):
        now[0] = step * 0.5  # 2 steps/s
        beat.step(step, lambda: 0.4321)
    assert lines == [
        "dense step 60/500 (12%), loss 0.4321, 2.0 steps/s, next evaluation at step 100",
        "dense step 120/500 (24%), loss 0.4321, 2.0 steps/s, next evaluation at step 200"]
    calls = []
    assert not beat.step(121, lambda: calls.append(1) or 0.0)  # loss only computed when due
    assert calls == []


def test_log_to_is_checked_before_anything_starts(capsys, tmp_path):
    base = ["launch", "--space", "dense_sst2", "--profile", "smoke", "--storage",
            str(tmp_path / "exps")]
    assert main([*base, "--log-to", "tensorbord"]) == 2
    assert "did you mean 'tensorboard'?" in capsys.readouterr().err
    assert main([*base, "--log-to", "none,mlflow"]) == 2
    assert "cannot be combined" in capsys.readouterr().err
    assert not (tmp_path / "exps" / "dense_sst2").exists()


@pytest.mark.parametrize("flag, typo, suggestion", [("--profile", "dmeo", "'demo'"),
                                                    ("--sampler", "nsga", "'nsga2' or 'nsga3'"),
                                                    ("--sampler", "tpee", "'tpe'")])
def test_profile_and_sampler_typos_get_did_you_mean(capsys, tmp_path, flag, typo, suggestion):
    code = main(["launch", "--space", "dense_sst2", "--storage", str(tmp_path),
                 *(["--profile", "smoke"] if flag != "--profile" else []), flag, typo])
    err = capsys.readouterr().err
    assert code == 2 and f"did you mean {suggestion}?" in err, err
    assert len(err.strip().splitlines()) == 1


def test_orchestrator_alone_prints_the_full_help():
    out = subprocess.run([sys.executable, "-m", "orchestrator"], cwd=REPO,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0
    assert "launch" in out.stdout and "status" in out.stdout and "options:" in out.stdout


def test_ray_log_prefix_colours_are_off_when_stdout_is_not_a_terminal(monkeypatch):
    import os
    import re

    from orchestrator.console import TRIAL_LINES

    for var in ("RAY_COLOR_PREFIX", "RAY_DEDUP_LOGS", "RAY_DEDUP_LOGS_ALLOW_REGEX"):
        monkeypatch.delenv(var, raising=False)
    plain_console(SimpleNamespace(isatty=lambda: True))
    assert "RAY_COLOR_PREFIX" not in os.environ and "RAY_DEDUP_LOGS" not in os.environ
    plain_console(SimpleNamespace(isatty=lambda: False))
    assert os.environ["RAY_COLOR_PREFIX"] == "0" and os.environ["RAY_DEDUP_LOGS"] == "0"
    # Per-trial lines are never merged by Ray's log deduplication, terminal or not.
    allow = re.compile(os.environ["RAY_DEDUP_LOGS_ALLOW_REGEX"])
    assert allow.pattern == TRIAL_LINES
    assert allow.search("trial cap_soft_qqp_3f2a9c01 started")
    assert allow.search("dense step 60/500 (12%), loss 0.4321, 2.0 steps/s, next evaluation")
    assert not allow.search("some warning at step 3")


def _study_trial(number: int, tune_id: str, start: float, end: float | None):
    stamp = lambda s: dt.datetime.fromtimestamp(s)  # noqa: E731
    return SimpleNamespace(number=number, user_attrs={"tune_trial_id": tune_id},
                           datetime_start=stamp(start),
                           datetime_complete=stamp(end) if end is not None else None)


def test_status_orders_trials_by_study_number_and_counts_sweep_time_only():
    import pandas as pd

    trials = [_study_trial(0, "ffff0000", 1000, 1100), _study_trial(1, "0000aaaa", 1050, 1200),
              _study_trial(2, "7777bbbb", 5000, None)]  # resumed an hour later, still running
    df = pd.DataFrame({"trial_id": ["0000aaaa", "7777bbbb", "ffff0000", "9999zzzz"]})
    assert trial_order(df, trials) == ["ffff0000", "0000aaaa", "7777bbbb", "9999zzzz"]
    assert trial_numbers(trials) == {"ffff0000": 0, "0000aaaa": 1, "7777bbbb": 2}
    # 1000..1200 and 5000..now(5060): 260 s, not the 4060 s since the first start.
    assert sweep_seconds(trials, now=5060) == pytest.approx(260)
    assert sweep_seconds([], now=1.0) is None


def test_mission_command_without_hub_says_what_works_here_in_its_first_message(
        capsys, tmp_path, monkeypatch):
    """`launch --space cap_soft_qqp` (paper profile) where neither model nor data can be
    fetched: one message names both and points to --profile demo and --data-dir."""
    import trainables.data
    import trainables.model_source
    from trainables.hub import HubUnavailableError
    from trainables.model_source import ModelUnavailableError

    def no_model(name):
        raise ModelUnavailableError(f"model {name!r} is not available locally")

    def no_data(task, split, data_dir=None):
        raise HubUnavailableError("GLUE task 'qqp' is not available locally")

    monkeypatch.setattr(trainables.model_source, "check_model", no_model)
    monkeypatch.setattr(trainables.data, "load_split", no_data)
    code = main(["launch", "--space", "cap_soft_qqp", "--storage", str(tmp_path / "exps")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "'bert-base-uncased'" in err and "'qqp'" in err  # both problems at once
    assert "--profile demo" in err and "--data-dir" in err
    assert not (tmp_path / "exps").exists() or not any((tmp_path / "exps").iterdir())


def test_progress_survives_tunes_pickling_without_stale_clocks():
    import pickle

    progress = ConsoleProgress("s", [], ["score"], num_samples=3, concurrency=1, quiet=True)
    a, b = _trial("a"), _trial("b")
    progress.on_trial_start(0, [], a)
    progress.on_trial_start(0, [], b)
    a.last_result = {"is_final": True}
    progress.on_trial_complete(0, [], a)
    restored = pickle.loads(pickle.dumps(progress))
    assert list(restored.sweep.finished) == ["a"] and restored.sweep.running == {}


def test_actor_reuse_is_off_by_default_when_a_dashboard_runs():
    from orchestrator.launch import default_reuse
    from orchestrator.sweep import Resources

    cpu, gpu = Resources(1.0, 0.0), Resources(1.0, 1.0)
    assert default_reuse(None, cpu, None) is True  # --no-dashboard: nobody looks, be fast
    assert default_reuse(None, cpu, "127.0.0.1:8265") is False  # names in the dashboard
    assert default_reuse(None, gpu, None) is False
    assert default_reuse(True, cpu, "127.0.0.1:8265") is True  # the flag decides


def test_reused_trial_process_is_never_named_after_one_trial():
    from trainables.ray_adapter import tune_trainable_class

    reused = tune_trainable_class("dense", "dense_sst2", reuse=True)
    fresh = tune_trainable_class("dense", "dense_sst2", reuse=False)
    instance = object.__new__(reused)
    assert repr(instance) == "dense_sst2_worker"
    assert fresh.__name__ == reused.__name__ == "dense_sst2"


def test_status_lists_running_trials_by_study_number_with_their_latest_row(capsys):
    import pandas as pd

    from orchestrator.status import _print_running

    df = pd.DataFrame({"trial_id": ["bbbb", "bbbb", "aaaa"], "iteration": [1, 2, 1],
                       "step": [10, 20, 10], "score": [0.6, 0.7, 0.5],
                       "weight_sparsity": [0.1, 0.2, float("nan")],
                       "elapsed_s": [5.0, 65.0, float("nan")]})
    states = {"aaaa": "running", "bbbb": "running"}
    _print_running(df, states, ["bbbb", "aaaa"], {"bbbb": 0, "aaaa": 1}, {"space": "s"})
    assert capsys.readouterr().out.splitlines() == [
        "running",
        "  #0 s_bbbb  step 20, score 0.7, sparsity 0.2, 0:01:05 in",
        "  #1 s_aaaa  step 10, score 0.5"]
