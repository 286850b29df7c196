"""Print how the installed packages differ from the lock: ``make test-latest`` runs it.

Usage: ``python locks/drift.py LOCK_FILE ...``. Lists every locked package whose installed
version is another (the drift the next ``make lock`` would take in), and packages installed
that the lock does not know (new dependencies). Exits 0: drift is news, not a failure; the
test run that follows says whether it breaks anything.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_versions(paths: list[str]) -> dict[str, str]:
    pins = {}
    for path in paths:
        for line in Path(path).read_text().splitlines():
            match = _PIN.match(line)
            if match:
                pins[canonical(match[1])] = match[2]
    return pins


def installed_versions() -> dict[str, str]:
    return {canonical(dist.metadata["Name"]): dist.version for dist in metadata.distributions()}


def main(paths: list[str]) -> None:
    locked, installed = locked_versions(paths), installed_versions()
    changed = sorted((name, locked[name], installed[name]) for name in locked
                     if name in installed and installed[name] != locked[name])
    missing = sorted(name for name in locked if name not in installed)
    new = sorted(name for name in installed if name not in locked
                 and name not in ("pip", "prunesweep", "torch"))
    print(f"torch (installed at TORCH_SPEC, not locked): {installed.get('torch', 'missing')}")
    print(f"drift from the lock: {len(changed)} changed, {len(new)} new, "
          f"{len(missing)} no longer installed")
    for name, old, now in changed:
        print(f"  {name}: {old} (locked) -> {now}")
    for name in new:
        print(f"  {name}: new, {installed[name]}")
    for name in missing:
        print(f"  {name}: locked {locked[name]}, not installed now")


if __name__ == "__main__":
    main(sys.argv[1:])
