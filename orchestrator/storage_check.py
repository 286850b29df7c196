"""Is the storage root shared by every node? Trials on several nodes must write to one place.

Since Ray 2.7 Tune no longer syncs trial folders to the head node, so a node-local path on a
multi-node cluster loses checkpoints and results. We read the mount table to tell a network
filesystem from a local disk and refuse the latter when the cluster has several nodes.
"""

from __future__ import annotations

from pathlib import Path

from orchestrator.errors import UsageError

NETWORK_FS = {"nfs", "nfs4", "cifs", "smb3", "smbfs", "lustre", "gpfs", "ceph", "glusterfs",
              "beegfs", "afs", "9p", "virtiofs", "wekafs", "panfs", "orangefs"}


def filesystem_type(path: Path, mounts_file: str = "/proc/mounts") -> str | None:
    """The type of the filesystem ``path`` lives on (longest mount-point match), if known."""
    try:
        lines = Path(mounts_file).read_text().splitlines()
    except OSError:
        return None
    target = str(path.resolve())
    best, best_type = "", None
    for line in lines:
        parts = line.split()
        if len(parts) < 3:
            continue
        mount = parts[1].replace("\\040", " ")
        inside = target == mount or target.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) >= len(best):
            best, best_type = mount, parts[2]
    return best_type


def is_network_fs(fstype: str | None) -> bool:
    if fstype is None:
        return False
    return fstype in NETWORK_FS or fstype.startswith("fuse.") or fstype == "fuse"


def alive_nodes() -> int:
    import ray

    return sum(1 for node in ray.nodes() if node.get("Alive"))


def check_shared_storage(root: Path, nodes: int, *, allow_local: bool = False,
                         mounts_file: str = "/proc/mounts") -> None:
    """Refuse a node-local storage root when the cluster has more than one node."""
    if nodes <= 1 or allow_local:
        return
    fstype = filesystem_type(root, mounts_file)
    if is_network_fs(fstype):
        return
    raise UsageError(
        f"--storage {root} is on a node-local filesystem ({fstype or 'unknown'}) but the "
        f"cluster has {nodes} nodes: trials on other nodes could not write their checkpoints "
        "and results there. Use a folder on shared storage (NFS, Lustre, a FUSE mount of a "
        "bucket) mounted at the same path on every node, or --allow-local-storage if it is "
        "shared in a way the mount table does not show"
    )
