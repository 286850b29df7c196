"""Sparse inference for pruned BERT models: CSR on the CPU, 2:4 semi-structured on CUDA.

CAP bakes its masks into dense matrices, so a 97%-sparse model runs as fast as the dense one.
This package makes the zeros pay: every ``nn.Linear`` is timed dense against the sparse
kernels on the target device and keeps whichever is faster (dense wherever sparse loses, so
the model is never slower), and the choice can be saved next to a Hugging Face folder.

- :mod:`~trainables.sparse.kernels`: the sparse linears (``CsrLinear``, ``TiledCsrLinear``,
  ``SemiStructuredLinear``) and what the device supports;
- :mod:`~trainables.sparse.native`: builds and calls ``spmm_tiled.c``, the ``csr_tiled`` CPU
  kernel (compiled at first use; torch's CSR remains where it cannot be built);
- :mod:`~trainables.sparse.timing`: dense-or-sparse by measured speed, cached per torch
  version, device and thread count;
- :mod:`~trainables.sparse.plan`: :class:`SparsePlan`, what each linear got and why, and
  :data:`PLAN_FILE`, its name next to a Hugging Face folder;
- :mod:`~trainables.sparse.swap`: put a kernel in place of a linear (``install``);
- :mod:`~trainables.sparse.whole_model`: regroup the per-layer choices on the whole model's
  measured latency, never slower than dense;
- :mod:`~trainables.sparse.convert`: :func:`sparsify` a model, :func:`load_sparse` a folder;
- ``python -m trainables.sparse convert MODEL_DIR --out DIR`` (``__main__``): the CLI for
  serving.

Example:
    >>> from trainables.sparse import load_sparse, sparsify
    >>> model, plan = sparsify(baked_model, tokens=32 * 128)          # doctest: +SKIP
    >>> print(plan.summary())                                          # doctest: +SKIP
    30/38 linears sparse
"""

from __future__ import annotations

from trainables.sparse.convert import apply_plan
from trainables.sparse.convert import load_sparse
from trainables.sparse.convert import read_plan
from trainables.sparse.convert import save_plan
from trainables.sparse.convert import sparsify
from trainables.sparse.kernels import CsrLinear
from trainables.sparse.kernels import SemiStructuredLinear
from trainables.sparse.kernels import TiledCsrLinear
from trainables.sparse.kernels import semi_structured_unavailable
from trainables.sparse.plan import PLAN_FILE
from trainables.sparse.plan import SparsePlan
from trainables.sparse.timing import TimingCache
from trainables.sparse.timing import choose_kernel
from trainables.sparse.timing import default_cache_dir

__all__ = [
    "PLAN_FILE", "CsrLinear", "SemiStructuredLinear", "SparsePlan", "TiledCsrLinear",
    "TimingCache", "apply_plan", "choose_kernel", "default_cache_dir", "load_sparse", "read_plan",
    "save_plan", "semi_structured_unavailable", "sparsify",
]
