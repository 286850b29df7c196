"""Each trial's name where the user looks, checked against the real Ray REST API.

A smoke sweep runs with the dashboard on; while it runs the test polls ``/api/v0/actors``
and reads ``EXP/results`` with pandas. With actor reuse Ray keeps an actor's repr from its
creation, so the dashboard must never show a trial name for a process that has moved on
(it shows ``<space>_worker``), and every log line must carry the prefix of the trial that
printed it. Without reuse the dashboard shows each trial's own name.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from analysis import schema as S
from orchestrator.cli import main
from tests.orchestrator.helpers import start_cli, wait_for

SPACE = "dense_sst2"


def _actors(url: str) -> list[dict]:
    token_file = Path.home() / ".ray" / "auth_token"
    request = urllib.request.Request(f"{url}/api/v0/actors?detail=1&limit=200")
    if token_file.is_file():  # Ray 2.60's token authentication (on by default)
        request.add_header("Authorization", f"Bearer {token_file.read_text().strip()}")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["data"]["result"]["result"]


@pytest.mark.parametrize("reuse", ["--reuse-actors", "--no-reuse-actors"])
def test_dashboard_logs_and_status_name_the_running_trial(tmp_path, capsys, reuse):
    storage, name = tmp_path / "exps", "names"
    exp, log = storage / name, tmp_path / "launch.log"
    # Learning curves: TensorBoard always, MLflow (local file store) on the second run.
    log_to = "tensorboard,mlflow" if reuse == "--no-reuse-actors" else "tensorboard"
    if "mlflow" in log_to:
        pytest.importorskip("mlflow")
    started = time.monotonic()
    proc = start_cli("launch", "--space", SPACE, "--profile", "smoke", "--num-samples", "3",
                     "--concurrency", "1", reuse, "--num-cpus", "2", "--storage",
                     str(storage), "--name", name, "--set", "max_steps=30",
                     "--set", "eval_every=10", "--no-early-stop", "--seed", "1",
                     "--log-to", log_to, log=log)
    try:
        url = wait_for(lambda: re.search(r"dashboard (http://\S+)", log.read_text()), 240,
                       "the dashboard URL").group(1)
        repr_names: set[str] = set()
        stock_reads = 0
        while proc.poll() is None:
            try:
                repr_names |= {a["repr_name"] for a in _actors(url)
                               if a["class_name"] == SPACE and a.get("repr_name")}
            except OSError:
                pass  # the dashboard is going down with the cluster
            if (exp / "results").is_dir() and any((exp / "results").glob("*.parquet")):
                df = pd.read_parquet(exp / "results")  # a researcher's first read, mid-sweep
                assert not df.duplicated([S.TRIAL_ID, S.ITERATION, S.STATUS]).any()
                stock_reads += 1
            time.sleep(0.5)
        assert proc.wait(60) == 0, log.read_text()[-3000:]
        wall = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()

    text = log.read_text()
    df = pd.read_parquet(exp / "results")
    trial_ids = sorted(set(df[S.TRIAL_ID]))
    assert len(trial_ids) == 3 and int(df[S.IS_FINAL].sum()) == 3
    assert stock_reads > 0  # pandas read EXP/results while trials were still running
    trial_names = {f"{SPACE}_{t}" for t in trial_ids}
    if reuse == "--reuse-actors":
        # One process ran several trials: it is never listed under one trial's name.
        assert repr_names == {f"{SPACE}_worker"}, repr_names
        assert "the dashboard lists them as dense_sst2_worker" in text
    else:
        assert repr_names and repr_names <= trial_names, (repr_names, trial_names)

    # Every trial announces itself, and the line carries its own prefix, not another's.
    for trial in trial_names:
        assert re.search(rf"\({re.escape(trial)} pid=\d+\) trial {re.escape(trial)} started",
                         text), text[-3000:]
    for prefix, message in re.findall(r"\((\w+) pid=\d+\) trial (\w+) started", text):
        assert prefix == message
    assert "\x1b[" not in text  # stdout is a file: no colour codes
    # The console's live line names the trial and shows step/total.
    assert re.search(rf"running\] {SPACE}_[0-9a-f]+ step 10/30 score", text), text[-3000:]
    # One TensorBoard event file per trial, in the trial's folder; one MLflow run per trial.
    for trial in trial_names:
        assert list((exp / trial).glob("events.out.tfevents.*")), trial
    if "mlflow" in log_to:
        runs = [p for p in (exp / "mlruns").glob("*/*") if (p / "metrics" / "score").is_file()]
        assert len(runs) == 3, list((exp / "mlruns").rglob("*"))[:20]
    # Checkpoint paths of the final rows exist.
    finals = df[df[S.IS_FINAL]]
    assert all(Path(p).is_dir() for p in finals[S.CHECKPOINT_PATH]), finals[S.CHECKPOINT_PATH]

    capsys.readouterr()
    assert main(["status", name, "--storage", str(storage)]) == 0
    out = capsys.readouterr().out
    assert "3 completed" in out and "the sweep has finished" in out
    used = re.search(r"time\s+(\d+):(\d\d):(\d\d) used", out)
    seconds = int(used[1]) * 3600 + int(used[2]) * 60 + int(used[3])
    # The time trials were running, from the study: within the launch's own wall time.
    assert 0 < seconds <= wall + 1, (seconds, wall)
