"""A real SLURM (Debian's slurm-wlm: munged, slurmctld, slurmd) on the namespace cluster.

One ``munged`` and one ``slurmd`` per node, ``slurmctld`` on the head, all with the same
``slurm.conf`` and munge key (as a real cluster shares them), each daemon's socket, spool
and log folders private to its node.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from tests.cluster.netns_cluster import NamespaceCluster

PRIVATE_DIRS = ("/run/munge", "/var/lib/munge", "/var/log/munge", "/var/spool/slurmd",
                "/var/spool/slurmctld", "/var/log/slurm")


def missing() -> str | None:
    """Why SLURM cannot be started here, or None."""
    for tool in ("munged", "slurmctld", "slurmd", "sbatch", "sinfo"):
        if shutil.which(tool) is None:
            return (f"`{tool}` is not installed "
                    "(apt-get install slurmctld slurmd slurm-client munge)")
    if not Path("/etc/munge/munge.key").is_file():
        return "no munge key at /etc/munge/munge.key (the munge package makes one)"
    return None


def slurm_conf(cluster: NamespaceCluster, cpus: int = 1) -> str:
    lines = [
        "ClusterName=nsc",
        f"SlurmctldHost={cluster.head.name}({cluster.head.ip})",
        "SlurmUser=root", "SlurmdUser=root", "AuthType=auth/munge",
        "ProctrackType=proctrack/linuxproc",  # no cgroups inside the namespaces
        "TaskPlugin=task/none", "JobAcctGatherType=jobacct_gather/none",
        "SelectType=select/cons_tres", "SelectTypeParameters=CR_CPU",
        "MpiDefault=none", "ReturnToService=2", "SchedulerType=sched/builtin",
        "StateSaveLocation=/var/spool/slurmctld", "SlurmdSpoolDir=/var/spool/slurmd",
        "SlurmctldLogFile=/var/log/slurm/slurmctld.log",
        "SlurmdLogFile=/var/log/slurm/slurmd.log",
        "SlurmctldPidFile=/run/munge/slurmctld.pid", "SlurmdPidFile=/run/munge/slurmd.pid",
        "SlurmctldTimeout=30", "SlurmdTimeout=30", "InactiveLimit=0", "KillWait=5",
    ]
    for node in cluster.nodes:
        lines.append(f"NodeName={node.name} NodeAddr={node.ip} CPUs={cpus} State=UNKNOWN")
    lines.append("PartitionName=nsc Nodes=ALL Default=YES MaxTime=INFINITE State=UP")
    return "\n".join(lines) + "\n"


def start_slurm(cluster: NamespaceCluster, logs: Path, timeout: float = 120) -> Path:
    """Start munge and SLURM on every node; returns the slurm.conf path (set SLURM_CONF)."""
    conf = cluster.shared / "slurm" / "slurm.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(slurm_conf(cluster))
    cluster.extra_env["SLURM_CONF"] = str(conf)
    for node in cluster.nodes:
        node.run("chown munge:munge /run/munge /var/lib/munge /var/log/munge && "
                 "runuser -u munge -- munged")
    cluster.head.spawn(f"slurmctld -D -f {conf}", logs / "slurmctld.log")
    for node in cluster.nodes:
        node.spawn(f"slurmd -D -f {conf} -N {node.name}", logs / f"slurmd-{node.name}.log")
    deadline = time.monotonic() + timeout
    while True:
        out = cluster.head.run("sinfo -h -N -o '%N %t'", check=False)
        states = dict(line.split() for line in out.stdout.splitlines() if line.strip())
        if len(states) == len(cluster.nodes) and set(states.values()) == {"idle"}:
            return conf
        if time.monotonic() > deadline:
            raise TimeoutError(f"SLURM nodes not idle after {timeout} s: {out.stdout}"
                               f"{out.stderr}")
        time.sleep(1)
