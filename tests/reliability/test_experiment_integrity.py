"""An experiment's data stays its own: moved, driven twice, missing state, interrupted.

Each test is one example of the hardening issue's "data lost or another experiment changed"
class, run through the real CLI on the cheap ``calibrate`` space (CPU spin, no model):

- a copied or moved experiment resumes in the folder it was given, never in the old one;
- a second driver on a live experiment is refused, and the first one finishes unharmed;
- a finished sweep whose Tune state was deleted is refused, not re-run and grown;
- Ctrl-C says "stopped", exits 130, writes no final row for the interrupted trials, and a
  later resume finishes them.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from analysis import schema as S
from tests.orchestrator.helpers import (
    REPO, cli_env, result_rows, start_cli, trial_processes, wait_for,
)

COMMON = ["--no-dashboard", "--num-cpus", "2"]


def calibrate(name: str, storage: Path, n: int, work_s: float, reports: int,
              *extra: str) -> list[str]:
    return ["launch", "--space", "calibrate", "--num-samples", str(n), "--name", name,
            "--storage", str(storage), "--no-early-stop", "--seed", "0",
            "--set", f"work_s={work_s}", "--set", f"num_reports={reports}", *COMMON, *extra]


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "orchestrator", *args], cwd=REPO,
                          env=cli_env(), capture_output=True, text=True, timeout=timeout)


def finals(exp: Path):
    df = result_rows(exp)
    return df[df[S.IS_FINAL]] if len(df) else df


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` with its size and mtime: what "unchanged" means."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*") if p.is_file()}


def killed_mid_sweep(tmp_path: Path, name: str, n: int = 3) -> Path:
    """A sweep whose driver was SIGKILLed after its first trial finished (others open)."""
    storage = tmp_path / "old"
    exp = storage / name
    proc = start_cli(*calibrate(name, storage, n, 3, 3, "--concurrency", "1"),
                     log=tmp_path / f"{name}-launch.log")
    wait_for(lambda: (exp / "results").is_dir() and len(finals(exp)) >= 1, 240,
             "the first finished trial")
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)
    # A trial process of the killed sweep can outlive its driver for a moment and still
    # write its next checkpoint (seen: 1.1 s after the kill): wait until none is left, so
    # that what the tests snapshot is what the killed sweep left.
    wait_for(lambda: not trial_processes("calibrate"), 120, "the killed sweep's trials to end")
    assert len(finals(exp)) < n, "the sweep finished before the kill; test is void"
    return storage


def test_a_copied_or_moved_experiment_resumes_where_it_is(tmp_path):
    name, n = "moving", 3
    old = killed_mid_sweep(tmp_path, name, n)
    finished_before = set(finals(old / name)[S.TRIAL_ID])
    before = snapshot(old)

    # cp -a old copy; resume the copy: everything lands in the copy, the original is untouched.
    copy = tmp_path / "copy"
    shutil.copytree(old, copy, symlinks=True)
    out = run_cli("resume", name, "--storage", str(copy), *COMMON)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert f"launched in {old / name}" in out.stdout
    assert snapshot(old) == before, "resuming the copy changed the original experiment"
    done = finals(copy / name)
    assert len(done) == n and set(done[S.STATUS]) == {S.STATUS_COMPLETED}
    assert set(done[S.EXPERIMENT]) == {name}

    # mv old moved; resume it: old/ is not re-created, the sweep finishes in moved/.
    moved = tmp_path / "moved"
    old.rename(moved)
    out = run_cli("resume", name, "--storage", str(moved), *COMMON)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert not old.exists(), f"resume re-created {old}"
    done = finals(moved / name)
    assert len(done) == n and set(done[S.STATUS]) == {S.STATUS_COMPLETED}
    # The final rows written by the resumes name checkpoints in the folder they ran in.
    resumed = done[~done[S.TRIAL_ID].isin(finished_before)]
    checkpoints = resumed[S.CHECKPOINT_PATH]
    assert all(str(p).startswith((str(copy), str(moved))) for p in checkpoints), \
        list(checkpoints)


def test_a_renamed_experiment_folder_is_refused_naming_both(tmp_path):
    storage = tmp_path / "exps"
    out = run_cli(*calibrate("named", storage, 1, 0.2, 1))
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    (storage / "named").rename(storage / "renamed")
    out = run_cli("resume", "renamed", "--storage", str(storage), *COMMON, timeout=60)
    assert out.returncode == 2
    line = out.stderr.strip().splitlines()[-1]
    assert line.startswith("error: experiment folder ") and "'named'" in line, out.stderr
    assert str(storage / "renamed") in line


def test_a_second_driver_is_refused_while_the_first_runs(tmp_path):
    storage, name, n = tmp_path / "exps", "busy", 2
    exp = storage / name
    proc = start_cli(*calibrate(name, storage, n, 8, 4), log=tmp_path / "launch.log")
    wait_for(lambda: (exp / "_rows").is_dir() and any((exp / "_rows").glob("*.parquet")),
             240, "the first result row")
    out = run_cli("resume", name, "--storage", str(storage), *COMMON, timeout=60)
    assert out.returncode != 0
    line = out.stderr.strip().splitlines()[-1]
    assert line.startswith(f"error: experiment '{name}' is being run by a live driver (pid "
                           f"{proc.pid} on "), out.stderr
    assert proc.wait(300) == 0, (tmp_path / "launch.log").read_text()[-3000:]
    done = finals(exp)
    assert len(done) == n and set(done[S.STATUS]) == {S.STATUS_COMPLETED}
    # The lock died with its driver: a resume now runs (and has nothing left to do).
    out = run_cli("resume", name, "--storage", str(storage), *COMMON)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    assert len(finals(exp)) == n


def test_resume_after_deleted_state_is_refused_and_invents_no_trial(tmp_path):
    storage, name, n = tmp_path / "exps", "base", 2
    out = run_cli(*calibrate(name, storage, n, 0.3, 1))
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    pristine = tmp_path / "pristine"
    shutil.copytree(storage / name, pristine, symlinks=True)
    for pattern in ("experiment_state-*.json", "searcher-state-*.pkl",
                    "search_gen_state-*.json"):
        shutil.rmtree(storage / name)
        shutil.copytree(pristine, storage / name, symlinks=True)
        for path in (storage / name).glob(pattern):
            path.unlink()
        before = result_rows(storage / name)
        out = run_cli("resume", name, "--storage", str(storage), *COMMON, timeout=60)
        assert out.returncode == 2, (pattern, out.stdout[-2000:], out.stderr[-2000:])
        line = out.stderr.strip().splitlines()[-1]
        assert line.startswith(f"error: cannot resume '{name}': {pattern} missing"), line
        assert "nothing to resume" in line and "--warm-start base" in line, line
        assert "Traceback" not in out.stderr
        after = result_rows(storage / name)
        assert after[S.TRIAL_ID].nunique() == n and len(after) == len(before)


def test_ctrl_c_is_reported_as_an_interrupt_and_resume_finishes_the_trials(tmp_path):
    storage, name, n = tmp_path / "exps", "intr", 2
    exp = storage / name
    log = tmp_path / "launch.log"
    proc = start_cli(*calibrate(name, storage, n, 12, 12, "--concurrency", "2"), log=log)
    wait_for(lambda: (exp / "_rows").is_dir()
             and len({p.name.split("-it")[0] for p in (exp / "_rows").glob("*.parquet")}) >= n,
             240, "rows of both trials")
    os.killpg(proc.pid, signal.SIGINT)
    assert proc.wait(120) == 130, log.read_text()[-3000:]
    text = log.read_text()
    assert f"stopped {name} (interrupted)" in text, text[-3000:]
    assert f"python -m orchestrator resume {name}" in text
    assert "finished intr" not in text
    assert len(finals(exp)) == 0, finals(exp)[[S.TRIAL_ID, S.ITERATION, S.STATUS]]

    out = run_cli("resume", name, "--storage", str(storage), *COMMON)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    done = finals(exp)
    assert len(done) == n and set(done[S.STATUS]) == {S.STATUS_COMPLETED}
    assert set(done[S.ITERATION]) == {12}, done[[S.TRIAL_ID, S.ITERATION]]
