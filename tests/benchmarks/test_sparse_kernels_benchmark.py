"""benchmarks/sparse_kernels.py runs, checks every kernel against dense and records ratios."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_kernel_benchmark_records_a_ratio_per_available_kernel(tmp_path):
    out = tmp_path / "kernels.json"
    done = subprocess.run([sys.executable, "benchmarks/sparse_kernels.py", "--densities", "0.1",
                           "--tokens", "40", "--rounds", "1", "--out", str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = json.loads(out.read_text())["rows"]
    assert [(r["in"], r["out"]) for r in rows] == [(384, 384), (384, 1536), (1536, 384)]
    for row in rows:
        assert {"csr_addmm", "csr_addmm_t"} <= set(row["speedup"])
        assert set(row["speedup"]) | set(row["unavailable"]) >= {"csr_tiled"}
        assert all(ratio > 0 for ratio in row["speedup"].values())
    assert "384->1536 density 0.10" in done.stdout
