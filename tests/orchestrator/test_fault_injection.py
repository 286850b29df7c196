"""Fault injection: each case ends with 0 result rows lost or duplicated."""

from __future__ import annotations

import os
import signal

from ray.cluster_utils import Cluster

from analysis import schema as S
from tests.orchestrator.helpers import (
    lost_and_duplicated, result_rows, start_cli, trial_processes, wait_for,
)


def test_trial_process_killed_mid_run_is_retried_and_completes(tmp_path):
    storage, name, n = tmp_path / "exps", "kill-trial", 3
    exp = storage / name
    proc = start_cli("launch", "--space", "dense_sst2", "--profile", "smoke", "--num-samples",
                     str(n), "--storage", str(storage), "--name", name, "--no-dashboard",
                     "--num-cpus", "2", "--max-failures", "2", "--no-early-stop",
                     "--set", "max_steps=150", "--set", "eval_every=30",
                     log=tmp_path / "launch.log")
    wait_for(lambda: len(list((exp / "_rows").glob("*.parquet"))) >= 1, 240, "a first row")
    victims = wait_for(lambda: trial_processes("dense_sst2"), 60, "a running trial")
    os.kill(victims[0], signal.SIGKILL)
    assert proc.wait(400) == 0, (tmp_path / "launch.log").read_text()[-3000:]
    log = (tmp_path / "launch.log").read_text()
    assert "retrying from its last checkpoint" in log, log[-3000:]
    df = result_rows(exp)
    assert lost_and_duplicated(df, n) == (0, 0)
    assert (df[df[S.IS_FINAL]][S.STATUS] == S.STATUS_COMPLETED).all()


def _two_node_cluster() -> tuple[Cluster, object]:
    cluster = Cluster(initialize_head=True, connect=False,
                      head_node_args={"num_cpus": 1, "include_dashboard": False})
    worker = cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    return cluster, worker


def test_two_node_sweep_uses_both_nodes(tmp_path):
    cluster, worker = _two_node_cluster()
    try:
        storage, name, n = tmp_path / "exps", "two-nodes", 4
        proc = start_cli("launch", "--space", "calibrate", "--num-samples", str(n),
                         "--storage", str(storage), "--name", name, "--address",
                         cluster.address, "--allow-local-storage", "--no-early-stop",
                         "--set", "work_s=1.5", log=tmp_path / "launch.log")
        assert proc.wait(300) == 0, (tmp_path / "launch.log").read_text()[-3000:]
        df = result_rows(storage / name)
        assert lost_and_duplicated(df, n) == (0, 0)
        assert df[S.NODE].nunique() == 2
        assert worker.node_id in set(df[S.NODE])
    finally:
        cluster.shutdown()


def test_worker_node_removed_mid_sweep(tmp_path):
    cluster, worker = _two_node_cluster()
    try:
        storage, name, n = tmp_path / "exps", "lose-node", 4
        exp = storage / name
        proc = start_cli("launch", "--space", "calibrate", "--num-samples", str(n),
                         "--storage", str(storage), "--name", name, "--address",
                         cluster.address, "--allow-local-storage", "--no-early-stop",
                         "--max-failures", "3", "--set", "work_s=8", "--set",
                         "num_reports=8", log=tmp_path / "launch.log")

        def worker_reported() -> bool:
            rows = result_rows(exp) if (exp / "results").is_dir() else None
            return rows is not None and len(rows) and worker.node_id in set(rows[S.NODE])

        wait_for(worker_reported, 240, "a row from the worker node")
        cluster.remove_node(worker, allow_graceful=False)
        assert proc.wait(400) == 0, (tmp_path / "launch.log").read_text()[-3000:]
        df = result_rows(exp)
        assert lost_and_duplicated(df, n) == (0, 0)
        assert (df[df[S.IS_FINAL]][S.STATUS] == S.STATUS_COMPLETED).all()
        finals = df[df[S.IS_FINAL]]
        assert worker.node_id not in set(finals[S.NODE])  # finished on the surviving node
    finally:
        cluster.shutdown()
