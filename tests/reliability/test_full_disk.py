"""A sweep whose storage fills up: one clean line, no row lost, and ``resume`` once space is back.

The storage root is a small tmpfs (the test needs root to mount one and is skipped without);
the sweep fills it after a few trials. Then the mount grows and ``resume`` finishes the sweep.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from orchestrator.cli import main

TRIALS = 12


def _mount(folder: Path, size: str) -> None:
    folder.mkdir(exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); needs root")


def _rows(results: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in results.glob("*.parquet")}


@pytest.fixture
def small_disk(tmp_path):
    disk = tmp_path / "disk"
    _mount(disk, "700k")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.mark.timeout(900)
def test_full_disk_then_resume(ray_local, small_disk, capsys):
    from analysis import schema as S
    from analysis.io import read_experiment
    from orchestrator.state_check import damaged_state
    from orchestrator.storage import open_storage

    argv = ["--storage", str(small_disk), "--no-dashboard"]
    code = main(["launch", "--space", "calibrate", "--set", "work_s=0.2", "--name", "full",
                 "--num-samples", str(TRIALS), "--concurrency", "2", "--no-early-stop",
                 *argv])
    out = capsys.readouterr()
    errors = [line for line in out.err.splitlines() if line.startswith("error: ")]
    assert code == 1, out.err[-3000:]
    assert errors == [out.err.strip().splitlines()[-1]], errors  # the last line, said once
    assert "the storage is full" in errors[0] and "resume full" in errors[0]

    folder = small_disk / "full"
    assert not list(folder.rglob("*.tmp")), list(folder.rglob("*.tmp"))
    assert damaged_state(open_storage(str(small_disk)), str(folder)) is None
    before = _rows(folder / "results")
    assert before, "the sweep wrote no row before the disk filled"

    subprocess.run(["mount", "-o", "remount,size=32m", str(small_disk)], check=True)
    assert main(["resume", "full", *argv]) == 0, capsys.readouterr().err[-3000:]
    capsys.readouterr()

    after = _rows(folder / "results")
    lost = [name for name, data in before.items() if after.get(name) != data]
    print(f"\nfull disk: {len(before)} result files before, {len(after)} after resume, "
          f"{len(lost)} lost or rewritten")
    assert not lost, lost  # 0 rows lost (or rewritten)
    rows = read_experiment(str(folder))
    assert not rows.duplicated([S.TRIAL_ID, S.ITERATION, S.STATUS]).any()
    finals = rows[rows[S.IS_FINAL]]
    assert finals[S.TRIAL_ID].is_unique
    assert (finals[S.STATUS] == S.STATUS_COMPLETED).sum() >= TRIALS - 2
    assert len(finals) >= TRIALS - 2
