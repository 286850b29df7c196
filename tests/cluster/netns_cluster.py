"""A Ray cluster of namespace "machines" on one host, for tests and benchmarks (root only).

Every node is a process tree in its own network namespace (its own address on a bridge the
harness creates, no default route: only the nodes' addresses and loopback exist), its own
mount namespace (private ``/tmp``, ``$HOME`` with ``~/.cache`` and ``~/.ray``, ``/dev/shm``;
the other nodes' folders hidden) and its own UTS namespace (its own hostname). One storage
folder is mounted at the same path on every node, as NFS would be. Nodes run ``ray start``
as the README tells users to, with token authentication on.

What ``ray.cluster_utils.Cluster`` hides, this shows: a path written on one node and read on
another, a cache that only works because everything shares one disk, a lock that only works
because every process shares one hostname, a worker that cannot join without the token.

Everything it creates (bridge, veth pairs, namespaces, mounts, processes, folders) goes at
the end, also when the body raises; an ``atexit`` hook catches an interpreter that exits
without leaving the ``with`` block. A holder process (``sleep``) keeps each node's
namespaces alive; a node's processes are found by their network namespace, so killing a
node kills exactly its process tree and nothing else on the host.

Example:
    >>> with NamespaceCluster(workers=2) as cluster:            # doctest: +SKIP
    ...     cluster.start_ray()
    ...     cluster.head.run("python -m orchestrator launch --address "
    ...                      f"{cluster.address} ...")
"""

from __future__ import annotations

import ipaddress
import json
import os
import random
import shlex
import shutil
import signal
import subprocess
import sys
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
RAY_PORT = 6379
HOME = "/home/node"  # every node's $HOME (a private folder mounted there)
# not /root: the venv's interpreter may live there (pyenv); its caches are hidden instead
HIDDEN = ("/root/.cache", "/root/.ray")
IFACE_PREFIX = "nsc"  # every link the harness creates starts so (tests look for leftovers)


def unavailable() -> str | None:
    """Why this machine cannot run the harness, or None when it can."""
    if sys.platform != "linux":
        return f"namespaces need Linux, not {sys.platform}"
    if os.geteuid() != 0:
        return "creating network and mount namespaces needs root (CI runs as root)"
    for tool in ("ip", "unshare", "nsenter", "mount"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed (iproute2 / util-linux)"
    probe = subprocess.run(["unshare", "--net", "--mount", "--uts", "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return f"unshare --net --mount --uts failed: {probe.stderr.strip()}"
    return None


def _sh(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), capture_output=True, text=True, check=check)


def _netns_inode(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def processes_in_netns(inode: int) -> list[int]:
    """Every process whose network namespace is ``inode`` (a node's whole process tree)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _netns_inode(int(entry)) == inode:
            pids.append(int(entry))
    return pids


def _free_subnet() -> ipaddress.IPv4Network:
    """A /24 in 10.0.0.0/8 that no interface on the host uses."""
    used = _sh("ip", "-4", "-o", "addr", "show", check=False).stdout
    taken = [ipaddress.ip_interface(w).network for line in used.splitlines()
             for i, w in enumerate(line.split()) if i > 0 and line.split()[i - 1] == "inet"]
    for _ in range(200):
        net = ipaddress.ip_network(f"10.{random.randint(64, 250)}.{random.randint(0, 255)}.0/24")
        if not any(net.overlaps(t) for t in taken):
            return net
    raise RuntimeError("no free 10.x.y.0/24 subnet for the namespace cluster")


@dataclass
class Node:
    """One "machine": a holder process whose namespaces every command enters."""

    name: str
    ip: str
    private: Path  # its /tmp and $HOME, as seen from the host (hidden from the other nodes)
    cluster: NamespaceCluster
    holder: subprocess.Popen | None = None
    netns: int | None = None
    logs: list[Path] = field(default_factory=list)

    def env(self, extra: dict[str, str | None] | None = None) -> dict[str, str]:
        """A clean environment, as a login on this machine would have (nothing from the host's
        Ray, caches or temp folders leaks in)."""
        env = {"PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
               "HOME": HOME, "USER": "root", "LANG": "C.UTF-8", "TMPDIR": "/tmp",
               "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "PYTHONUNBUFFERED": "1",
               "OMP_NUM_THREADS": "1", "RAY_USAGE_STATS_ENABLED": "0",
               "PYTHONDONTWRITEBYTECODE": "1",
               # as docs/cluster.md tells users: an explicit --address never turns token
               # authentication on by itself (a value of None in ``extra`` unsets it)
               "RAY_AUTH_MODE": "token"}
        env.update(self.cluster.extra_env)
        env.update(extra or {})
        return {key: value for key, value in env.items() if value is not None}

    def command(self, cmd: str) -> list[str]:
        assert self.holder is not None, "node not started"
        return ["nsenter", "--target", str(self.holder.pid), "--net", "--mount", "--uts",
                f"--wd={REPO}", "--", "/bin/bash", "-c", cmd]

    def run(self, cmd: str, *, timeout: float = 300, check: bool = True,
            env: dict[str, str | None] | None = None) -> subprocess.CompletedProcess:
        """Run ``cmd`` (bash) on this node and wait; raises with its output when it fails."""
        proc = subprocess.run(self.command(cmd), env=self.env(env), capture_output=True,
                              text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise RuntimeError(f"[{self.name}] `{cmd}` exited {proc.returncode}:\n"
                               f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        return proc

    def spawn(self, cmd: str, log: Path,
              env: dict[str, str | None] | None = None) -> subprocess.Popen:
        """Start ``cmd`` on this node in the background, its output in ``log`` (host path)."""
        self.logs.append(log)
        with open(log, "w") as fh:  # the child keeps its own descriptor
            return subprocess.Popen(self.command(cmd), env=self.env(env), stdout=fh,
                                    stderr=subprocess.STDOUT, start_new_session=True)

    def pids(self) -> list[int]:
        """This node's processes but its holder."""
        if self.netns is None:
            return []
        holder = self.holder.pid if self.holder else -1
        return [pid for pid in processes_in_netns(self.netns) if pid != holder]

    def kill_processes(self) -> int:
        """SIGKILL every process on this node (Ray's raylet, workers, drivers), keeping the
        machine (namespaces) itself; returns how many were killed."""
        killed = 0
        for _ in range(5):  # a dying raylet may still fork a worker
            pids = self.pids()
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
                except ProcessLookupError:
                    pass
            time.sleep(0.2)
        return killed

    def host_path(self, node_path: str) -> Path:
        """Where a path under this node's private /tmp or $HOME lies on the host."""
        for mount, sub in (("/tmp", "tmp"), (HOME, "home")):
            if node_path == mount or node_path.startswith(mount + "/"):
                return self.private / sub / node_path[len(mount):].lstrip("/")
        raise ValueError(f"{node_path} is not in {self.name}'s private /tmp or {HOME}")


class NamespaceCluster:
    """``head`` plus ``workers`` nodes on a private bridge; use as a context manager."""

    def __init__(self, workers: int = 2, *, root: Path | None = None,
                 extra_env: dict[str, str | None] | None = None,
                 private_dirs: tuple[str, ...] = ()) -> None:
        """``private_dirs``: host folders each node gets an empty private copy of (a daemon's
        socket, spool and log folders: ``/run/munge``, ``/var/spool/slurmd``)."""
        reason = unavailable()
        if reason:
            raise PermissionError(reason)
        self.tag = f"{IFACE_PREFIX}{os.getpid() % 0xFFFF:04x}{random.randint(0, 0xFF):02x}"[:9]
        # /var/tmp, not /tmp: the nodes mount a private /tmp, and the shared folder must stay
        # visible at the same path on all of them
        self.root = Path(root or f"/var/tmp/{self.tag}").resolve()
        self.shared = self.root / "shared"
        self.subnet = _free_subnet()
        self.bridge = f"{self.tag}br"
        self.extra_env = dict(extra_env or {})
        self.private_dirs = private_dirs
        hosts = list(self.subnet.hosts())
        names = ["head"] + [f"worker{i}" for i in range(1, workers + 1)]
        self.nodes = [Node(name, str(hosts[i + 1]), self.root / "nodes" / name, self)
                      for i, name in enumerate(names)]
        self.token: str | None = None  # the head's auth token, once Ray runs
        self.hosts: dict[str, str] = {}  # Ray node id -> hostname, kept after a node dies
        self._links: list[str] = []
        self._closed = False
        self._finalizer = weakref.finalize(self, NamespaceCluster._cleanup_state,
                                           self.nodes, self._links, self.root)
        # weakref.finalize also runs at interpreter exit (atexit), once

    @property
    def head(self) -> Node:
        return self.nodes[0]

    @property
    def workers(self) -> list[Node]:
        return self.nodes[1:]

    @property
    def address(self) -> str:
        return f"{self.head.ip}:{RAY_PORT}"

    # -- machines ---------------------------------------------------------------------------

    def __enter__(self) -> NamespaceCluster:
        try:
            self.shared.mkdir(parents=True)
            _sh("ip", "link", "add", self.bridge, "type", "bridge")
            self._links.append(self.bridge)
            _sh("ip", "link", "set", self.bridge, "up")  # no address: the host is not a node
            for index, node in enumerate(self.nodes):
                self._start_node(index, node)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def add_node(self, name: str) -> Node:
        """A further machine on the same bridge (a worker that joins late)."""
        index = len(self.nodes)
        node = Node(name, str(list(self.subnet.hosts())[index + 1]),
                    self.root / "nodes" / name, self)
        self.nodes.append(node)
        self._start_node(index, node)
        return node

    def _start_node(self, index: int, node: Node) -> None:
        for path in self.private_dirs:
            Path(path).mkdir(parents=True, exist_ok=True)  # the mount point, on the host
        for sub in ("tmp", "home"):
            (node.private / sub).mkdir(parents=True)
        os.chmod(node.private / "tmp", 0o1777)
        q = shlex.quote
        setup = " && ".join([
            f"hostname {q(node.name)}",
            f"mount --bind {q(str(node.private / 'tmp'))} /tmp",
            f"mount -t tmpfs -o size=1m,mode=755 none {q(str(Path(HOME).parent))}",
            f"mkdir {HOME}",
            f"mount --bind {q(str(node.private / 'home'))} {HOME}",
            *[f"mount -t tmpfs -o size=1m none {q(p)}" for p in HIDDEN if Path(p).is_dir()],
            *[f"mount -t tmpfs -o size=64m,mode=755 none {q(p)}" for p in self.private_dirs],
            "mount -t tmpfs -o size=2g,mode=1777 shm /dev/shm",
            f"mount --bind {q(str(self.shared))} {q(str(self.shared))}",
            # hide the other nodes' private folders: nothing is shared by accident
            f"mount -t tmpfs -o size=1m none {q(str(self.root / 'nodes'))}",
            "ip link set lo up",
            "echo ready",
            "exec sleep infinity",
        ])
        node.holder = subprocess.Popen(
            ["unshare", "--net", "--mount", "--uts", "--propagation", "private",
             "/bin/sh", "-c", setup],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        line = node.holder.stdout.readline().strip()
        if line != "ready":
            raise RuntimeError(f"node {node.name} did not start: {node.holder.stderr.read()}")
        node.netns = _netns_inode(node.holder.pid)
        outside, inside = f"{self.tag}h{index}", f"{self.tag}n{index}"
        _sh("ip", "link", "add", outside, "type", "veth", "peer", "name", inside)
        self._links.append(outside)
        _sh("ip", "link", "set", inside, "netns", str(node.holder.pid))
        _sh("ip", "link", "set", outside, "master", self.bridge, "up")
        node.run(f"ip link set {inside} name eth0 && "
                 f"ip addr add {node.ip}/{self.subnet.prefixlen} dev eth0 && "
                 "ip link set eth0 up")

    # -- Ray --------------------------------------------------------------------------------

    def ray_start_head(self, *, num_cpus: float = 1, extra: str = "") -> str:
        """``ray start --head`` on the head with a fresh token (token auth on); returns it."""
        self.head.run("ray get-auth-token --generate >/dev/null 2>&1")
        token = (self.head.host_path(f"{HOME}/.ray/auth_token")).read_text().strip()
        self.head.run(f"ray start --head --node-ip-address {self.head.ip} --port {RAY_PORT} "
                      f"--num-cpus {num_cpus} --object-store-memory 150000000 "
                      f"--disable-usage-stats {extra}", timeout=180)
        return token

    def ray_join(self, node: Node, token: str | None, *, num_cpus: float = 1,
                 timeout: float = 180, check: bool = True) -> subprocess.CompletedProcess:
        """``ray start --address HEAD:PORT`` on ``node``; the token copied to its ~/.ray as a
        user would (none: the node has no token)."""
        if token is not None:
            path = node.host_path(f"{HOME}/.ray/auth_token")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(token)
            path.chmod(0o600)
        return node.run(f"ray start --address {self.address} --num-cpus {num_cpus} "
                        "--object-store-memory 150000000 --disable-usage-stats",
                        timeout=timeout, check=check)

    def start_ray(self, *, num_cpus: float = 1) -> str:
        self.token = self.ray_start_head(num_cpus=num_cpus)
        for node in self.workers:
            self.ray_join(node, self.token, num_cpus=num_cpus)
        self.wait_for_nodes(len(self.nodes))
        return self.token

    def alive_nodes(self) -> dict[str, str]:
        """node id -> hostname of the nodes the head's GCS counts alive."""
        script = ("import json, ray; ray.init(address='auto', logging_level='ERROR'); "
                  "print(json.dumps({n['NodeID']: n['NodeManagerHostname'] "
                  "for n in ray.nodes() if n['Alive']}))")
        out = self.head.run(f"python -c {shlex.quote(script)}", timeout=120).stdout
        alive = json.loads(out.strip().splitlines()[-1])
        self.hosts.update(alive)
        return alive

    def wait_for_nodes(self, count: int, timeout: float = 120) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while True:
            alive = self.alive_nodes()
            if len(alive) == count:
                return alive
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(alive)} of {count} nodes alive after {timeout} s")
            time.sleep(1)

    def node_of_ip(self, ip: str) -> Node:
        return next(node for node in self.nodes if node.ip == ip)

    # -- teardown ---------------------------------------------------------------------------

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._finalizer()

    @staticmethod
    def _cleanup_state(nodes: list[Node], links: list[str], root: Path) -> None:
        for node in nodes:
            node.kill_processes()
            if node.holder is not None and node.holder.poll() is None:
                node.holder.kill()  # its mount, UTS and network namespaces go with it
                node.holder.wait(10)
        for link in reversed(links):  # a veth pair goes with either end
            _sh("ip", "link", "del", link, check=False)
        shutil.rmtree(root, ignore_errors=True)


def leftovers(tag: str = IFACE_PREFIX) -> list[str]:
    """Links, mounts and folders named ``tag*`` that exist on the host right now."""
    found = [line.split(":")[1].strip().split("@")[0]
             for line in _sh("ip", "-o", "link", "show", check=False).stdout.splitlines()
             if line.split(":")[1].strip().startswith(tag)]
    found += [line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()
              if f"/{tag}" in line.split()[1]]
    found += [str(p) for p in Path("/var/tmp").glob(f"{tag}*")]
    return found
