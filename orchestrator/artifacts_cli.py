"""``artifacts list|prune``: what the shared artifact store holds, and cleaning it up."""

from __future__ import annotations

import argparse
import time

from orchestrator.errors import UsageError
from orchestrator.storage import artifacts_root, open_storage
from trainables.artifacts import ArtifactStore


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def artifacts(args: argparse.Namespace) -> int:
    store = ArtifactStore.under_storage(artifacts_root(open_storage(args.storage),
                                                      args.artifacts_dir))
    items = [a for a in store.list() if args.kind in (None, a.kind)]
    if args.action == "list":
        if not items:
            print(f"no artifacts under {store.root}")
        for a in items:
            created = time.strftime("%Y-%m-%d %H:%M", time.localtime(a.created))
            summary = ", ".join(f"{k}={v}" for k, v in list(a.inputs.items())[:4])
            print(f"{a.kind:<12} {a.key}  {_size(a.size_bytes):>9}  {created}  built in "
                  f"{a.build_s:.0f}s  {summary}")
        return 0
    if args.older_than_days is not None and args.older_than_days < 0:
        raise UsageError(f"--older-than-days must be >= 0, but got {args.older_than_days}")
    cutoff = time.time() - 86400 * (args.older_than_days or 0)
    doomed = [a for a in items if args.older_than_days is None or a.created < cutoff]
    if not doomed:
        print("nothing to prune")
        return 0
    total = sum(a.size_bytes for a in doomed)
    if not args.yes:
        raise UsageError(f"would delete {len(doomed)} artifacts ({_size(total)}) under "
                         f"{store.root}; add --yes to do it")
    for a in doomed:
        store.remove(a.kind, a.key)
        print(f"removed {a.kind}/{a.key} ({_size(a.size_bytes)})")
    return 0
