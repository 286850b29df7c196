"""Sparse stand-ins for a pruned ``nn.Linear``: CSR on the CPU, 2:4 semi-structured on CUDA.

Each kernel computes exactly ``F.linear(x, W, b)`` for the baked weight ``W`` (zeros where the
mask pruned), only in another storage. Which one a layer gets is decided by measured speed
(:mod:`trainables.sparse.timing`); this module only knows how to build and run them.

CPU kernels (torch's CSR matmul is "sparse @ dense", so the product is taken transposed:
``y^T = W x^T``):

- ``csr_addmm``: ``addmm(b, W_csr, x^T)`` on the strided (non-contiguous) view of ``x^T``;
- ``csr_addmm_t``: the same on a contiguous copy of ``x^T``: which of the two is faster
  depends on the shape and the thread count, so both are timed;
- ``csr_tiled``: this project's C kernel (:mod:`trainables.sparse.native`) on torch's own
  row-major layouts, 2-4x faster than torch's CSR at 90-97% sparsity; only where a C
  compiler built it (:func:`~trainables.sparse.native.unavailable` says why not otherwise).

CUDA kernel: ``semi_structured`` (``torch.sparse.to_sparse_semi_structured``), only where the
mask keeps at most 2 of every 4 consecutive input weights and the GPU has sparse tensor cores
(compute capability 8.0 or newer); :func:`semi_structured_unavailable` says why not otherwise.

Example:
    >>> import torch
    >>> linear = torch.nn.Linear(8, 4)
    >>> with torch.no_grad():
    ...     linear.weight[:, 1:] = 0                                   # 87.5% sparse
    >>> sparse = build_kernel(linear, "csr_addmm")
    >>> x = torch.randn(3, 5, 8)
    >>> torch.allclose(sparse(x), linear(x), atol=1e-6)
    True
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

DENSE = "dense"
CPU_KERNELS = ("csr_addmm", "csr_addmm_t", "csr_tiled")
TILED = CPU_KERNELS[2]
CUDA_KERNELS = ("semi_structured",)
KERNELS = (DENSE, *CPU_KERNELS, *CUDA_KERNELS)


def _as_dense_returns(out: torch.Tensor, inputs: torch.Tensor, out_features: int) -> torch.Tensor:
    """``out`` (tokens x out_features) in the dtype and shape a dense linear would return for
    ``inputs``: the autocast dtype under autocast, so a sparse query meets a dense key in the
    same dtype inside attention."""
    device_type = inputs.device.type
    dtype = torch.get_autocast_dtype(device_type) if torch.is_autocast_enabled(
        device_type) else inputs.dtype
    return out.to(dtype).reshape(*inputs.shape[:-1], out_features)


class CsrLinear(nn.Module):
    """``F.linear`` with the weight stored in CSR (``torch.sparse_csr``); inference only.

    Args:
        linear: the baked linear whose zeros become implicit.
        contiguous: copy ``x^T`` to contiguous memory before the product (``csr_addmm_t``).
        contiguous_output: return a row-major result. The product comes out transposed
            (column-major); attention's fused CPU kernel needs the head dimension contiguous
            and otherwise falls back to the slower unfused path, so the query, key and value
            projections pay for the copy; other layers' consumers do not care.
    """

    def __init__(self, linear: nn.Linear, contiguous: bool = False,
                 contiguous_output: bool = False) -> None:
        super().__init__()
        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.contiguous, self.contiguous_output = contiguous, contiguous_output
        weight = linear.weight.detach()
        with warnings.catch_warnings():  # "Sparse CSR tensor support is in beta state", per layer
            warnings.simplefilter("ignore", UserWarning)
            csr = weight.to_sparse_csr()
        self.register_buffer("weight_csr", csr, persistent=False)
        bias = linear.bias.detach() if linear.bias is not None else weight.new_zeros(
            self.out_features)
        # addmm broadcasts a column: one bias per output row of y^T
        self.register_buffer("bias_column", bias.unsqueeze(1).clone(), persistent=False)

    @property
    def kernel(self) -> str:
        return CPU_KERNELS[1] if self.contiguous else CPU_KERNELS[0]

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        flat = inputs.reshape(-1, self.in_features)
        columns = flat.t().contiguous() if self.contiguous else flat.t()
        # in the weight's dtype, outside autocast: autocast would cast the CSR weight to bf16
        # on every call (addmm is on its lower-precision list)
        columns = columns.to(self.weight_csr.dtype)
        device_type = inputs.device.type
        with torch.autocast(device_type=device_type, enabled=False):
            out = torch.addmm(self.bias_column, self.weight_csr, columns).t()
        if self.contiguous_output:
            out = out.contiguous()
        return _as_dense_returns(out, inputs, self.out_features)

    def extra_repr(self) -> str:
        nnz = self.weight_csr.values().numel()
        density = nnz / (self.in_features * self.out_features)
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"density={density:.3f}, kernel={self.kernel}")


class TiledCsrLinear(nn.Module):
    """``F.linear`` through the ``csr_tiled`` C kernel; inference only, CPU, float32.

    Built in eval mode; in training mode with gradients wanted it refuses to run, rather
    than return a result no gradient flows through.

    Under autocast the input is computed in float32 and the result cast to the autocast dtype
    (what a dense linear would return there), like :class:`CsrLinear`.
    """

    kernel = TILED
    # "gelu": the exact GELU that follows this layer (BERT's FFN in) is applied here, in place
    # on the kernel's fresh output (set by :func:`trainables.sparse.convert.install`): the
    # separate activation allocates a 4x-wide tensor per layer, and on the CPU the page faults
    # of that allocation cost more than the GELU itself (MiniLM, 97%, length 128: 0.45 -> 0.34
    # s per pass)
    activation: str | None = None

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        from trainables.sparse import native

        reason = native.unavailable()
        if reason is not None:
            raise ValueError(reason)
        weight = linear.weight.detach()
        if weight.device.type != "cpu":
            raise ValueError("the csr_tiled kernel runs on the CPU "
                             f"(weight is on {weight.device})")
        self.in_features, self.out_features = linear.in_features, linear.out_features
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            csr = weight.float().to_sparse_csr()
        self.register_buffer("rowptr", csr.crow_indices().to(torch.int64).contiguous(),
                             persistent=False)
        self.register_buffer("col", csr.col_indices().to(torch.int32).contiguous(),
                             persistent=False)
        self.register_buffer("val", csr.values().contiguous(), persistent=False)
        bias = linear.bias.detach().float().contiguous() if linear.bias is not None else None
        self.register_buffer("bias", bias, persistent=False)
        self.eval()

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        from trainables.sparse.native import spmm_tiled

        if self.training and torch.is_grad_enabled() and inputs.requires_grad:
            # no gradient flows through the C kernel: training on would be silently wrong
            raise RuntimeError("csr_tiled layers are inference-only (no gradients): call "
                               ".eval(), or fine-tune the dense Hugging Face folder instead")

        flat = inputs.reshape(-1, self.in_features).to(torch.float32).contiguous()
        out = spmm_tiled(flat, self.rowptr, self.col, self.val, self.bias, self.out_features)
        if self.activation == "gelu":
            torch.ops.aten.gelu_(out)  # ``out`` is this call's own buffer: in place is safe
        return _as_dense_returns(out, inputs, self.out_features)

    def extra_repr(self) -> str:
        density = self.val.numel() / (self.in_features * self.out_features)
        fused = f", activation={self.activation}" if self.activation else ""
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"density={density:.3f}, kernel={self.kernel}{fused}")


def is_exact_gelu(module: nn.Module) -> bool:
    """Whether ``module`` computes ``F.gelu(x)`` (erf form): transformers' ``GELUActivation``
    or ``nn.GELU()``; the tanh approximation and other activations are not fused."""
    if type(module) is nn.GELU:
        return module.approximate == "none"
    return (type(module).__name__ == "GELUActivation"
            and getattr(module, "act", None) is nn.functional.gelu)


class FusedActivation(nn.Module):
    """Stands where an activation was after it moved into the preceding sparse linear: the
    identity, keeping the original to put back when the linear goes back to another kernel."""

    def __init__(self, original: nn.Module) -> None:
        super().__init__()
        self.original = original

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return inputs


def is_two_four(weight: torch.Tensor) -> bool:
    """True when every group of 4 consecutive input weights has at most 2 non-zeros."""
    if weight.dim() != 2 or weight.shape[1] % 4:
        return False
    groups = (weight.reshape(weight.shape[0], -1, 4) != 0).sum(dim=-1)
    return bool((groups <= 2).all())


def semi_structured_unavailable(weight: torch.Tensor) -> str | None:
    """Why 2:4 semi-structured storage cannot hold ``weight`` here, or None when it can."""
    if weight.device.type != "cuda":
        return f"2:4 semi-structured sparsity needs a CUDA device (weight is on {weight.device})"
    major, minor = torch.cuda.get_device_capability(weight.device)
    if major < 8:
        return (f"2:4 semi-structured sparsity needs compute capability >= 8.0 "
                f"(this GPU has {major}.{minor})")
    if not hasattr(torch.sparse, "to_sparse_semi_structured"):
        return f"torch {torch.__version__} has no torch.sparse.to_sparse_semi_structured"
    rows, cols = weight.shape
    if rows % 64 or cols % 64:
        return f"2:4 kernels need both dimensions divisible by 64 (weight is {rows}x{cols})"
    if not is_two_four(weight):
        return "the mask is not 2:4 (some group of 4 input weights keeps more than 2)"
    return None


class SemiStructuredLinear(nn.Module):
    """``F.linear`` with a 2:4 semi-structured weight (CUDA sparse tensor cores)."""

    kernel = CUDA_KERNELS[0]

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        reason = semi_structured_unavailable(linear.weight)
        if reason is not None:
            raise ValueError(f"semi-structured kernel not available: {reason}")
        from torch.sparse import to_sparse_semi_structured

        self.in_features, self.out_features = linear.in_features, linear.out_features
        self.weight = nn.Parameter(to_sparse_semi_structured(linear.weight.detach()),
                                   requires_grad=False)
        self.bias = linear.bias

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        flat = inputs.reshape(-1, self.in_features)  # the 2:4 matmul takes 2-D inputs only
        out = torch.nn.functional.linear(flat, self.weight, self.bias)
        return out.reshape(*inputs.shape[:-1], self.out_features)


def build_kernel(linear: nn.Linear, kernel: str, contiguous_output: bool = False) -> nn.Module:
    """``linear`` itself for ``dense``, else a sparse module computing the same product
    (``contiguous_output``: see :class:`CsrLinear`)."""
    if kernel == DENSE:
        return linear
    if kernel == TILED:
        return TiledCsrLinear(linear)
    if kernel in CPU_KERNELS:
        return CsrLinear(linear, contiguous=kernel == CPU_KERNELS[1],
                         contiguous_output=contiguous_output)
    if kernel in CUDA_KERNELS:
        return SemiStructuredLinear(linear)
    raise ValueError(f"`kernel` must be one of {KERNELS}, but got {kernel=!r}")


def candidate_kernels(weight: torch.Tensor) -> tuple[tuple[str, ...], dict[str, str]]:
    """The sparse kernels worth timing for ``weight`` on its device, and why others are not.

    Returns:
        ``(kernels, unavailable)``: kernel names to time against dense, and a reason per
        kernel that cannot run here (e.g. ``{"semi_structured": "the mask is not 2:4"}``).
    """
    if weight.device.type == "cpu":
        from trainables.sparse import native

        unavailable = {CUDA_KERNELS[0]: "2:4 semi-structured sparsity needs a CUDA device"}
        reason = native.unavailable() if weight.dtype == torch.float32 else (
            f"the csr_tiled kernel computes in float32 (weight is {weight.dtype})")
        if reason is not None:
            unavailable[TILED] = reason
        return tuple(k for k in CPU_KERNELS if k not in unavailable), unavailable
    if weight.device.type == "cuda":
        reason = semi_structured_unavailable(weight)
        unavailable = {name: "CSR kernels are used on the CPU only" for name in CPU_KERNELS}
        if reason is None:
            return CUDA_KERNELS, unavailable
        return (), {**unavailable, CUDA_KERNELS[0]: reason}
    return (), {name: f"no sparse kernel for device {weight.device}" for name in KERNELS[1:]}
