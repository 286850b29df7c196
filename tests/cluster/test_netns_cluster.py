"""The namespace cluster (default suite, < 3 min): three machines that share only one folder.

A sweep runs across them with ``launch --address``; a node without the token is refused
clearly; two nodes race for one artifact under the lock on the shared folder; a failing body
leaves no namespace, link, mount, process or folder behind.
"""

from __future__ import annotations

import time

import pytest

from analysis import schema as S
from tests.cluster.netns_cluster import (
    HOME, NamespaceCluster, leftovers, processes_in_netns, unavailable,
)
from tests.cluster.sweeps import check_rows, launch_args, rows, run_launch, trial_hosts


def _skip_without_privileges() -> None:
    reason = unavailable()
    if reason:
        pytest.skip(f"namespace cluster: {reason}")


def test_nodes_share_nothing_but_the_storage_folder(ray_cluster):
    head, worker = ray_cluster.head, ray_cluster.workers[0]
    assert [n.run("hostname").stdout.strip() for n in ray_cluster.nodes] == \
        ["head", "worker1", "worker2"]
    mark = ray_cluster.shared / "from-head"
    head.run(f"echo head > /tmp/only-here && echo head > ~/.cache-probe && echo head > {mark}")
    assert worker.run("cat /tmp/only-here", check=False).returncode != 0
    assert worker.run(f"cat {HOME}/.cache-probe", check=False).returncode != 0
    assert worker.run(f"cat {mark}").stdout.strip() == "head"
    # no route out: only the bridge's subnet and loopback are reachable
    assert worker.run("ip route").stdout.split()[0] == str(ray_cluster.subnet)
    assert "default" not in worker.run("ip route").stdout
    # token authentication is on: the head made a token and its GCS asks for it
    assert len(ray_cluster.token) >= 32
    assert head.run("ray get-auth-token").stdout.strip() == ray_cluster.token


# slow to keep CI under 25 minutes (run with -m slow); measured in the closing note
@pytest.mark.slow
def test_a_sweep_runs_across_the_nodes_with_launch_address(ray_cluster, tmp_path):
    name, n = "across", 3
    seconds = run_launch(ray_cluster, "calibrate", name, "--num-samples", str(n),
                         "--no-early-stop", "--set", "work_s=6", log=tmp_path / "launch.log",
                         timeout=240)
    df = rows(ray_cluster, name)
    check_rows(df, n)
    hosts = trial_hosts(ray_cluster, df)
    used = set().union(*hosts.values())
    print(f"\n{n} trials in {seconds:.0f} s on {sorted(used)}: "
          f"{ {t: sorted(h) for t, h in hosts.items()} }")
    # 3 one-CPU nodes and 3 concurrent trials: trials that overlap ran on different nodes
    assert len(used) >= 2 and used <= {"head", "worker1", "worker2"}
    assert (df[df[S.IS_FINAL]][S.STATUS] == S.STATUS_COMPLETED).all()


# slow to keep CI under 25 minutes (run with -m slow); measured in the closing note
@pytest.mark.slow
def test_a_node_without_the_token_is_refused_clearly(ray_cluster, tmp_path):
    stranger = ray_cluster.add_node("stranger")
    start = time.monotonic()
    join = ray_cluster.ray_join(stranger, None, timeout=120, check=False)
    took = time.monotonic() - start
    said = join.stdout + join.stderr
    assert join.returncode != 0 and took < 60, (took, said[-2000:])
    assert "token" in said.lower(), said[-2000:]
    print(f"\nray start without the token: exit {join.returncode} in {took:.1f} s: "
          f"{said.strip().splitlines()[-1]}")
    # a driver without the token, and one that sends none: launch names the fix in seconds
    for node, env, expected in (
            (stranger, {}, "no token was found"),
            (stranger, {"RAY_AUTH_TOKEN": "0" * 64}, "refused this machine's token"),
            (ray_cluster.head, {"RAY_AUTH_MODE": None}, "sends no token")):
        start = time.monotonic()
        log = tmp_path / f"{node.name}-{len(env)}-launch.log"
        proc = node.spawn(launch_args(ray_cluster, "calibrate", f"refused-{node.name}"), log,
                          env=env)
        code = proc.wait(120)
        said, took = log.read_text(), time.monotonic() - start
        print(f"launch on {node.name} ({env or 'no token'}): exit {code} in {took:.1f} s: "
              f"{said.strip().splitlines()[-1]}")
        assert code == 2 and expected in said and took < 30, said[-3000:]
        assert "Traceback" not in said, said[-3000:]


_RACE = r"""
import json, socket, sys, time
import numpy as np
from trainables.artifacts import ArtifactStore

def build(tmp):
    print("building on", socket.gethostname(), flush=True)
    time.sleep(4)
    np.arange(1000, dtype=np.float32).tofile(tmp / "table.f32")

store = ArtifactStore(sys.argv[1])
path = store.get_or_build("race", {"what": "table"}, build,
                          on_wait=lambda who: print("waiting for", who, flush=True))
table = np.memmap(path / "table.f32", dtype=np.float32, mode="r")  # mapped, not copied
print(json.dumps({"host": socket.gethostname(), "sum": float(table.sum()),
                  "built_by": json.loads((path / "manifest.json").read_text())["host"]}))
"""


# slow to keep CI under 25 minutes (run with -m slow); measured in the closing note
@pytest.mark.slow
def test_two_nodes_racing_for_one_artifact_build_it_once(ray_cluster, tmp_path):
    store = ray_cluster.shared / "race-artifacts"
    procs = []
    for node in ray_cluster.workers[:2]:
        log = tmp_path / f"{node.name}.log"
        procs.append((node.spawn(f"python -c '{_RACE}' {store}", log), log))
    outs = []
    for proc, log in procs:
        assert proc.wait(120) == 0, log.read_text()
        outs.append(log.read_text())
    built = [o for o in outs if "building on" in o]
    waited = [o for o in outs if "waiting for" in o]
    assert len(built) == 1 and len(waited) == 1, outs
    builder = built[0].split("building on ")[1].split()[0]
    assert f"on {builder}" in waited[0], outs  # the lock names the builder's host
    assert all(f'"built_by": "{builder}"' in o and '"sum": 499500.0' in o for o in outs), outs
    assert len(list(store.glob("race/*/manifest.json"))) == 1


def test_a_failing_body_leaves_nothing_behind():
    _skip_without_privileges()
    holders, tag = [], None
    with pytest.raises(RuntimeError, match="the test failed"):
        with NamespaceCluster(workers=1) as cluster:
            tag = cluster.tag
            cluster.ray_start_head()
            holders = [node.netns for node in cluster.nodes]
            assert leftovers(tag)  # bridge, veths and folders exist while it runs
            assert processes_in_netns(cluster.head.netns)
            raise RuntimeError("the test failed")
    assert leftovers(tag) == []
    assert all(processes_in_netns(inode) == [] for inode in holders)
