"""Running and reading sweeps on the namespace cluster (shared by its tests)."""

from __future__ import annotations

import shlex
import subprocess
import time
from pathlib import Path

from analysis import schema as S
from tests.cluster.netns_cluster import NamespaceCluster, Node
from tests.orchestrator.helpers import lost_and_duplicated, result_rows


def launch_args(cluster: NamespaceCluster, space: str, name: str, *extra: str) -> str:
    """``launch --address HEAD:PORT`` into the shared folder, as a user types it."""
    args = ["python", "-m", "orchestrator", "launch", "--space", space, "--address",
            cluster.address, "--storage", str(cluster.shared / "exps"), "--name", name,
            "--allow-local-storage", *extra]  # a bind mount is not NFS to the mount check
    return " ".join(shlex.quote(a) for a in args)


def run_launch(cluster: NamespaceCluster, space: str, name: str, *extra: str,
               log: Path, timeout: float = 600, node: Node | None = None) -> float:
    """Run a sweep's driver on the head (or ``node``) to the end; returns its seconds."""
    start = time.monotonic()
    proc = (node or cluster.head).spawn(launch_args(cluster, space, name, *extra), log)
    try:
        code = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f"launch ran past {timeout} s:\n{log.read_text()[-4000:]}")
    assert code == 0, log.read_text()[-4000:]
    return time.monotonic() - start


def rows(cluster: NamespaceCluster, name: str):
    return result_rows(cluster.shared / "exps" / name)


def trial_hosts(cluster: NamespaceCluster, df) -> dict[str, set[str]]:
    """trial id -> hostnames of the nodes its rows came from."""
    hosts = cluster.hosts
    return {trial: {hosts.get(node, node) for node in group[S.NODE]}
            for trial, group in df.groupby(S.TRIAL_ID)}


def check_rows(df, trials: int) -> tuple[int, int]:
    lost, duplicated = lost_and_duplicated(df, trials)
    assert (lost, duplicated) == (0, 0), f"{lost} lost, {duplicated} duplicated"
    return lost, duplicated
