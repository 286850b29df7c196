"""Helpers shared by the production-sweep tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from analysis import schema as S
from analysis.io import read_results

REPO = Path(__file__).resolve().parents[2]


def cli_env() -> dict[str, str]:
    # Same Ray auth settings as the test process: a cluster it started expects its token.
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", PYTHONUNBUFFERED="1")
    env.pop("RAY_ADDRESS", None)
    return env


def start_cli(*args: str, log: Path) -> subprocess.Popen:
    fh = open(log, "w")
    return subprocess.Popen([sys.executable, "-m", "orchestrator", *args], cwd=REPO,
                            env=cli_env(), stdout=fh, stderr=subprocess.STDOUT,
                            start_new_session=True)


def wait_for(predicate, timeout: float, what: str, poll: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def result_rows(exp: Path):
    return read_results(exp, strict=True)


def lost_and_duplicated(df, num_trials: int) -> tuple[int, int]:
    """(trials without exactly one final row, duplicated (trial, iteration) rows)."""
    finals = df[df[S.IS_FINAL]].groupby(S.TRIAL_ID).size()
    lost = num_trials - int((finals == 1).sum())
    duplicated = int(df.duplicated([S.TRIAL_ID, S.ITERATION]).sum())
    return lost, duplicated


def study_of(exp: Path) -> optuna.Study:
    storage = JournalStorage(JournalFileBackend(str(exp / "optuna.journal")))
    return optuna.load_study(study_name=exp.name, storage=storage)


def trial_processes(space: str) -> list[int]:
    """PIDs of running trial processes of ``space`` (their title is ``ray::<space>.train``)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        if cmdline.strip() == f"ray::{space}.train":
            pids.append(int(proc.name))
    return pids
