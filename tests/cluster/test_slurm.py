"""``scripts/slurm/ray_sweep.sbatch`` on a real SLURM running in the namespace cluster (slow).

``slurmctld`` on the head, one ``slurmd`` and one ``munged`` per node; ``sbatch --wait``
submits the script, which starts Ray's head on the first node, workers on the others with
``srun``, runs the sweep with ``launch --address`` and stops Ray.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from analysis import schema as S
from tests.cluster.netns_cluster import REPO, NamespaceCluster, unavailable
from tests.cluster.slurm import PRIVATE_DIRS, missing, start_slurm
from tests.cluster.sweeps import check_rows, rows, trial_hosts

pytestmark = pytest.mark.slow

SCRIPT = "scripts/slurm/ray_sweep.sbatch"


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:  # gone meanwhile
        return ""


def test_the_sbatch_script_is_shellcheck_clean():
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck)")
    out = subprocess.run(["shellcheck", SCRIPT], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stdout


def test_sbatch_runs_a_sweep_across_three_slurm_nodes(tmp_path):
    reason = unavailable() or missing()
    if reason:
        pytest.skip(f"SLURM in the namespace cluster: {reason}")
    with NamespaceCluster(workers=2, private_dirs=PRIVATE_DIRS) as cluster:
        start_slurm(cluster, tmp_path)
        exps, name, n = cluster.shared / "exps", "slurm", 3
        out = cluster.shared / "job.out"
        submit = cluster.head.run(
            f"sbatch --wait --nodes=3 --output={out} {SCRIPT} --space calibrate "
            f"--num-samples {n} --name {name} --allow-local-storage --no-early-stop "
            "--set work_s=6",
            env={"PRUNESWEEP_STORAGE": str(exps), "RAY_CPUS_PER_NODE": "1",
                 "RAY_OBJECT_STORE_BYTES": "150000000",
                 "RAY_AUTH_MODE": None},  # the script turns it on by itself
            timeout=900, check=False)
        said = out.read_text() if out.exists() else ""
        assert submit.returncode == 0, f"{submit.stdout}{submit.stderr}\n{said[-4000:]}"
        assert "3 Ray node(s) up" in said and "orchestrator exited with 0" in said, said
        df = rows(cluster, name)
        check_rows(df, n)
        # Ray ran under SLURM, not the harness: each raylet logs its own node id at start
        for node in cluster.nodes:
            own = node.run("grep -m1 -o 'Setting node ID node_id=[0-9a-f]*' "
                           "/tmp/ray/session_latest/logs/raylet.out", check=False).stdout
            if "=" in own:
                cluster.hosts[own.strip().split("=")[1]] = node.name
        hosts = set().union(*trial_hosts(cluster, df).values())
        print(f"\nSCENARIO slurm: lost=0 duplicated=0 where={sorted(hosts)}")
        assert hosts <= {"head", "worker1", "worker2"} and len(hosts) >= 2
        # torn down: no Ray process left on any node, the job's token deleted
        for node in cluster.nodes:  # its own processes (pgrep would see the host's too)
            ray_left = [cmd for cmd in map(_cmdline, node.pids())
                        if "raylet" in cmd or "gcs_server" in cmd]
            assert ray_left == [], (node.name, ray_left)
        assert not list(exps.glob(".ray-auth-*")), list(exps.glob(".ray-auth-*"))
