"""Real sweeps on the namespace cluster (slow: minutes each on a 2-core machine).

Each scenario prints one line ``SCENARIO ...`` with rows lost and duplicated, where the
trials ran, and (where a node or the driver dies) the recovery seconds; run with
``pytest -m slow tests/cluster -s`` to see them.
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from analysis import schema as S
from tests.cluster.netns_cluster import HOME, NamespaceCluster, unavailable
from tests.cluster.sweeps import check_rows, launch_args, rows, run_launch, trial_hosts
from tests.orchestrator.helpers import wait_for
from trainables.artifacts import ArtifactStore

pytestmark = pytest.mark.slow


def _report(scenario: str, df, trials: int, cluster: NamespaceCluster, **extra) -> None:
    lost, duplicated = check_rows(df, trials)
    where = {t: sorted(h) for t, h in trial_hosts(cluster, df).items()}
    more = " ".join(f"{k}={v}" for k, v in extra.items())
    print(f"\nSCENARIO {scenario}: lost={lost} duplicated={duplicated} where={where} {more}",
          flush=True)


def _artifacts(cluster: NamespaceCluster) -> dict[str, list[str]]:
    """kind -> the host that built each of its artifacts (one per key)."""
    built: dict[str, list[str]] = {}
    for info in ArtifactStore.under_storage(cluster.shared / "exps").list():
        manifest = json.loads((info.path / "manifest.json").read_text())
        built.setdefault(info.kind, []).append(manifest.get("host", "?"))
    return built


def _lines_by_node(log: str, text: str) -> list[str]:
    """The Ray log prefix ``(trial pid=N, ip=IP)`` of every trial line containing ``text``
    (no ``ip=``: the driver's node, the head)."""
    found = []
    for line in log.splitlines():
        if text in line and line.startswith("("):
            prefix = line[1:line.index(")")]
            found.append(prefix.split("ip=")[1] if "ip=" in prefix else "head")
    return found


def _native_libraries(cluster: NamespaceCluster) -> dict[str, int]:
    """node -> csr_tiled libraries in its private ~/.cache (built there, for its CPU)."""
    return {node.name: len(list(node.host_path(f"{HOME}/.cache/prunesweep/native")
                                .glob("*.so")))
            for node in cluster.nodes}


@pytest.fixture(scope="module")
def cluster(ray_cluster):
    """conftest's 3-node cluster, under the name these tests use."""
    return ray_cluster


def _shared_artifacts_sweep(cluster, tmp_path, space: str, name: str,
                            builds: dict[str, str], waits: dict[str, str]):
    """A smoke sweep of 3 trials; ``builds``: kind -> the log line its builder prints,
    ``waits``: kind -> the line a trial on another node prints while it waits."""
    n = 3
    seconds = run_launch(cluster, space, name, "--profile", "smoke", "--num-samples", str(n),
                         "--seed", "1", "--set", "measure_latency=true",
                         log=tmp_path / "launch.log", timeout=900)
    df = rows(cluster, name)
    built = _artifacts(cluster)
    hosts = set().union(*trial_hosts(cluster, df).values())
    log = (tmp_path / "launch.log").read_text()
    native = _native_libraries(cluster)
    _report(space, df, n, cluster, seconds=round(seconds), built=built, native=native)
    for kind, line in builds.items():  # built once, on one node, for every trial
        assert len(built.get(kind, [])) == 1, (kind, built)
        assert len(_lines_by_node(log, line)) == 1, (kind, _lines_by_node(log, line))
    print(f"waited: { {k: _lines_by_node(log, w) for k, w in waits.items()} }")
    assert "[artifacts] rebuilding" not in log
    assert len(hosts) >= 2, hosts
    assert (df[df[S.IS_FINAL]][S.STATUS] == S.STATUS_COMPLETED).all()
    return hosts, built, native


def test_cap_soft_qqp_shares_its_artifacts_across_three_nodes(cluster, tmp_path):
    hosts, built, native = _shared_artifacts_sweep(
        cluster, tmp_path, "cap_soft_qqp", "cap3",
        builds={"teacher": "building the teacher",
                "cap_teacher_outputs": "teacher outputs: one pass",
                "cap_pretrained_bank": "PrC bank: encoding"},
        waits={"teacher": "waiting for the teacher built by"})
    # the latency measurement compiled csr_tiled on each node that ran a trial, for its CPU
    assert all(native[host] >= 1 for host in hosts), native


def test_smp_shares_its_pruner_and_head_scores_across_three_nodes(cluster, tmp_path):
    _shared_artifacts_sweep(cluster, tmp_path, "smp_qqp", "smp3",
                            builds={"smp_pruner": "meta-training the pruner",
                                    "smp_scores": "scoring the heads of"},
                            waits={"smp_pruner": "waiting for pruner"})


def _rows_now(cluster, name):
    """The rows written so far: one Parquet file per row under ``_rows``, each written
    atomically, so a reader never sees half of one."""
    import pandas as pd

    files = sorted((cluster.shared / "exps" / name / "_rows").glob("*.parquet"))
    return pd.concat([pd.read_parquet(f) for f in files]) if files else None


def test_losing_a_worker_node_resumes_its_trial_on_another_node(cluster, tmp_path):
    name, n = "node-loss", 2
    log = tmp_path / "launch.log"
    proc = cluster.head.spawn(launch_args(
        cluster, "dense_sst2", name, "--profile", "smoke", "--num-samples", str(n),
        "--max-failures", "3", "--no-early-stop", "--seed", "2",
        "--set", "max_steps=240", "--set", "eval_every=30"), log)
    workers = {nid for nid, host in cluster.hosts.items() if host.startswith("worker")}

    def a_row_on_a_worker():
        df = _rows_now(cluster, name)
        if df is None:
            return None
        on_worker = df[df[S.NODE].isin(workers)]
        return on_worker.iloc[-1].to_dict() if len(on_worker) else None  # a dict: truthy

    row = wait_for(a_row_on_a_worker, 600, "a checkpointed row from a trial on a worker")
    trial, victim_id = row[S.TRIAL_ID], row[S.NODE]
    victim = next(n for n in cluster.nodes if cluster.hosts[victim_id] == n.name)
    killed = victim.kill_processes()
    killed_at, killed_wall = time.monotonic(), time.time()
    # the work lost is what the trial did after its last checkpoint (written with its row)
    last_row = max((cluster.shared / "exps" / name / "_rows").glob(f"{trial}-*.parquet"))
    lost_compute_s = killed_wall - last_row.stat().st_mtime
    done_at_kill = int(row[S.ITERATION])

    def resumed_elsewhere():
        df = _rows_now(cluster, name)
        if df is None:
            return None
        mine = df[(df[S.TRIAL_ID] == trial) & (df[S.NODE] != victim_id)]
        later = mine[mine[S.ITERATION] > done_at_kill]
        return later.iloc[0].to_dict() if len(later) else None

    resumed = wait_for(resumed_elsewhere, 600, "the trial's next row from another node", 0.5)
    recovery_s = time.monotonic() - killed_at
    assert proc.wait(900) == 0, log.read_text()[-4000:]
    df = rows(cluster, name)
    mine = df[df[S.TRIAL_ID] == trial].sort_values(S.ITERATION)
    assert list(mine[S.ITERATION]) == list(range(1, len(mine) + 1))  # resumed, not restarted
    _report("node-loss", df, n, cluster, killed_processes=killed, victim=victim.name,
            resumed_on=cluster.hosts.get(resumed[S.NODE]), recovery_s=round(recovery_s, 1),
            lost_compute_s=round(lost_compute_s, 1))
    assert "retrying from its last checkpoint" in log.read_text()
    # the machine comes back: its node rejoins with the token
    cluster.ray_join(victim, cluster.token)
    cluster.wait_for_nodes(len(cluster.nodes))


def test_losing_the_driver_then_resume_keeps_every_row(cluster, tmp_path):
    name, n = "driver-loss", 4
    log = tmp_path / "launch.log"
    proc = cluster.head.spawn(launch_args(
        cluster, "dense_sst2", name, "--profile", "smoke", "--num-samples", str(n),
        "--no-early-stop", "--seed", "3", "--set", "max_steps=120",
        "--set", "eval_every=30"), log)
    wait_for(lambda: (df := _rows_now(cluster, name)) is not None and len(df) >= 2, 600,
             "two rows before the driver dies")
    os.killpg(proc.pid, signal.SIGKILL)  # the driver's whole process group, not Ray
    proc.wait(30)
    killed_at = time.monotonic()
    resume_log = tmp_path / "resume.log"
    resume = cluster.head.spawn(
        f"python -m orchestrator resume {name} --storage {cluster.shared / 'exps'} "
        f"--address {cluster.address}", resume_log)
    assert resume.wait(900) == 0, resume_log.read_text()[-4000:]
    df = rows(cluster, name)
    _report("driver-loss", df, n, cluster,
            resume_to_end_s=round(time.monotonic() - killed_at, 1))


def test_a_worker_that_joins_late_takes_pending_trials(tmp_path):
    reason = unavailable()
    if reason:
        pytest.skip(f"namespace cluster: {reason}")
    with NamespaceCluster(workers=1) as small:
        small.start_ray()
        name, n = "late", 4
        log = tmp_path / "launch.log"
        # three at once on two one-CPU nodes: one waits for a CPU until the late node joins
        proc = small.head.spawn(launch_args(
            small, "calibrate", name, "--num-samples", str(n), "--concurrency", "3",
            "--no-early-stop", "--set", "work_s=20"), log)
        wait_for(lambda: _rows_now(small, name) is not None, 300, "a first row")
        late = small.add_node("late")
        joining = time.monotonic()
        small.ray_join(late, small.token)
        small.wait_for_nodes(3)
        joined_s = time.monotonic() - joining
        assert proc.wait(600) == 0, log.read_text()[-4000:]
        df = rows(small, name)
        hosts = set().union(*trial_hosts(small, df).values())
        _report("late-join", df, n, small, join_s=round(joined_s, 1))
        assert "late" in hosts, hosts


def _efficiency(cluster: NamespaceCluster, name: str, slots: int, seconds: float) -> float:
    df = rows(cluster, name)
    final = df[df[S.IS_FINAL] & (df[S.STATUS] == S.STATUS_COMPLETED)]
    return float(final[S.TRAIN_TIME_S].sum()) / (slots * seconds)


def test_slot_efficiency_three_nodes_against_one(tmp_path):
    """The same sweep of short trials on 3 one-CPU nodes and on 1: time inside the trials'
    work / (slots x the driver's wall time), as benchmarks/sweep_efficiency.py counts."""
    reason = unavailable()
    if reason:
        pytest.skip(f"namespace cluster: {reason}")
    args = ("--num-samples", "9", "--no-early-stop", "--seed", "0", "--set", "work_s=10",
            "--set", "num_reports=5")
    found, walls = {}, {}
    for workers in (2, 0):
        with NamespaceCluster(workers=workers) as c:
            c.start_ray()
            slots = workers + 1
            seconds = run_launch(c, "calibrate", "eff", *args, "--concurrency", str(slots),
                                 log=tmp_path / f"eff{slots}.log", timeout=900)
            found[slots], walls[slots] = _efficiency(c, "eff", slots, seconds), seconds
            check_rows(rows(c, "eff"), 9)
    print(f"\nSCENARIO slot-efficiency: 3 nodes {found[3]:.3f} ({walls[3]:.0f} s), "
          f"1 node {found[1]:.3f} ({walls[1]:.0f} s)")
    assert 0 < found[3] <= 1 and 0 < found[1] <= 1
