"""Fault injection: each case ends with 0 result rows lost or duplicated."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from ray.cluster_utils import Cluster

from analysis import schema as S
from tests.orchestrator.helpers import (
    cli_env, lost_and_duplicated, result_rows, start_cli, trial_processes, wait_for,
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


_HOLD_A_CPU = """
import sys, ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
ray.init(address=sys.argv[1])

@ray.remote(num_cpus=1)
class Hold:
    def ready(self):
        return True

hold = Hold.options(name="hold-head-cpu", lifetime="detached",
                    scheduling_strategy=NodeAffinitySchedulingStrategy(sys.argv[2], soft=False))
ray.get(hold.remote().ready.remote(), timeout=120)
"""


def test_trials_on_a_worker_node_report_their_rows_and_node(tmp_path):
    # The scheduler promises where a trial *can* run, not that it spreads: with a free CPU on
    # both nodes, a loaded machine ran all trials on the head (the worker's placement came
    # late). So the head's only CPU is held by a detached actor for the whole sweep, and
    # every trial must run on the worker while the driver stays on the head.
    cluster, worker = _two_node_cluster()
    try:
        subprocess.run([sys.executable, "-c", _HOLD_A_CPU, cluster.address,
                        cluster.head_node.node_id], check=True, timeout=180, env=cli_env())
        storage, name, n = tmp_path / "exps", "two-nodes", 4
        proc = start_cli("launch", "--space", "calibrate", "--num-samples", str(n),
                         "--storage", str(storage), "--name", name, "--address",
                         cluster.address, "--allow-local-storage", "--no-early-stop",
                         "--set", "work_s=1.5", log=tmp_path / "launch.log")
        assert proc.wait(300) == 0, (tmp_path / "launch.log").read_text()[-3000:]
        df = result_rows(storage / name)
        assert lost_and_duplicated(df, n) == (0, 0)
        assert set(df[S.NODE]) == {worker.node_id}
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
