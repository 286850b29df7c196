"""Masking and removing attention heads of a transformers-5 BERT, and counting what is left.

transformers 5 dropped ``head_mask`` from ``BertModel.forward`` (an extra ``head_mask=``
kwarg is silently ignored) and dropped ``prune_heads`` (methods.md pitfalls 23-24). So:

- :class:`HeadMasker` scales each head's context vector with a forward pre-hook on
  ``attention.output.dense``; this equals the old semantics (scaling the head's
  attention probabilities) and is differentiable w.r.t. the mask (methods.md 5.1).
- :func:`prune_heads` removes heads physically (Q/K/V rows, output columns) with
  ``transformers.pytorch_utils.prune_linear_layer`` (section 6: the speed-up is real);
  :func:`restore_heads` puts them back as zeros (the stock, exportable form).

Counting what is left is :func:`trainables.sparsity.count_params` (the one counting rule).

Example:
    >>> with HeadMasker(model) as masker:                 # doctest: +SKIP
    ...     masker.mask = keep.float()
    ...     logits = model(**inputs).logits
    >>> prune_heads(model, keep)                          # same logits, fewer weights
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import torch
from torch import nn

from trainables.models import HEAD_ROW_ROLES
from trainables.models import LINEAR_ROLES
from trainables.models import encoder_layers
from trainables.models import get_submodule
from trainables.models import head_layout
from trainables.models import set_submodule

ATTENTION_OUTPUT = LINEAR_ROLES["attention_output"]
SELF_ATTENTION = LINEAR_ROLES["query"].rpartition(".")[0]  # "attention.self"


def as_keep_mask(mask: torch.Tensor | Sequence[Sequence[bool]]) -> torch.Tensor:
    """A boolean ``[L, H]`` tensor from a tensor or a list of lists (True = keep)."""
    tensor = torch.as_tensor(mask)
    if tensor.dim() != 2:
        raise ValueError(f"a head mask must be [layers, heads], got shape {list(tensor.shape)}")
    return tensor.bool() if tensor.dtype == torch.bool else tensor != 0


class HeadMasker:
    """Multiply each head's output by ``mask[layer, head]`` through forward pre-hooks.

    Set ``masker.mask`` (float ``[L, H]``, may require grad) before a forward; ``None``
    disables masking. Use as a context manager or call :meth:`remove`.
    """

    def __init__(self, model: nn.Module, mask: torch.Tensor | None = None) -> None:
        self.layers, self.heads, self.head_size = head_layout(model)
        self._mask: torch.Tensor | None = None
        self.mask = mask
        self._handles = [
            get_submodule(layer, ATTENTION_OUTPUT).register_forward_pre_hook(
                partial(self._scale, index))
            for index, layer in enumerate(encoder_layers(model))
        ]

    @property
    def mask(self) -> torch.Tensor | None:
        return self._mask

    @mask.setter
    def mask(self, mask: torch.Tensor | None) -> None:
        if mask is not None and tuple(mask.shape) != (self.layers, self.heads):
            raise ValueError(
                f"head mask must have shape [{self.layers}, {self.heads}], got {list(mask.shape)}"
            )
        self._mask = mask

    def _scale(self, index: int, module: nn.Module, args: tuple) -> tuple | None:
        if self._mask is None:
            return None
        hidden = args[0]  # [B, S, H*d], head-major (heads concatenated after attention)
        if hidden.shape[-1] != self.heads * self.head_size:
            raise RuntimeError("HeadMasker needs an unpruned model (use it before prune_heads)")
        scale = self._mask[index].to(hidden.device, hidden.dtype).repeat_interleave(self.head_size)
        return (hidden * scale, *args[1:])

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def __enter__(self) -> HeadMasker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def _prune(linear: nn.Linear, index: torch.Tensor, dim: int) -> nn.Linear:
    from transformers.pytorch_utils import prune_linear_layer

    pruned = prune_linear_layer(linear, index, dim=dim)
    pruned.to(dtype=linear.weight.dtype)  # prune_linear_layer builds a default-dtype layer
    pruned.requires_grad_(linear.weight.requires_grad)
    return pruned


def prune_heads(model: nn.Module, keep_mask: torch.Tensor | Sequence[Sequence[bool]]
                ) -> dict[int, list[int]]:
    """Physically remove the heads with ``keep_mask[l, h] == False``; returns the removed
    heads per layer (the original's ``{layer: [pruned heads]}`` bookkeeping).

    Q/K/V lose the heads' output rows (and biases), ``attention.output.dense`` their input
    columns; ``num_attention_heads``/``all_head_size`` on the self-attention module are
    updated for bookkeeping (transformers 5 reshapes with -1 heads). The config is left
    untouched: it still describes the dense model, which the counting rule
    (:func:`trainables.sparsity.count_params`) relies on. A pruned model cannot be rebuilt from its config: store the mask and
    re-prune a freshly loaded dense model (methods.md pitfall 24).

    Raises:
        ValueError: wrong mask shape, a layer left with no head, or a layer already pruned.
    """
    layers, heads, size = head_layout(model)
    keep = as_keep_mask(keep_mask)
    if tuple(keep.shape) != (layers, heads):
        raise ValueError(f"keep_mask must have shape [{layers}, {heads}], got {list(keep.shape)}")
    empty = [i for i in range(layers) if not keep[i].any()]
    if empty:
        raise ValueError(f"keep_mask leaves layers {empty} with no attention head; keep >= 1")
    removed: dict[int, list[int]] = {}
    for index, layer in enumerate(encoder_layers(model)):
        attention = get_submodule(layer, SELF_ATTENTION)
        if attention.num_attention_heads != heads:
            raise ValueError(f"layer {index} is already pruned; prune a fresh dense model")
        kept = keep[index].nonzero().flatten().tolist()
        if len(kept) == heads:
            continue
        rows = torch.cat([torch.arange(h * size, (h + 1) * size) for h in kept])
        for role in ("query", "key", "value"):
            path = LINEAR_ROLES[role]
            set_submodule(layer, path, _prune(get_submodule(layer, path), rows, dim=0))
        set_submodule(layer, ATTENTION_OUTPUT,
                      _prune(get_submodule(layer, ATTENTION_OUTPUT), rows, dim=1))
        attention.num_attention_heads = len(kept)
        attention.all_head_size = len(kept) * size
        removed[index] = [h for h in range(heads) if h not in kept]
    return removed


@torch.no_grad()
def restore_heads(model: nn.Module, keep_mask: torch.Tensor | Sequence[Sequence[bool]]
                  ) -> nn.Module:
    """A new model of the dense architecture (on the CPU) that computes what the
    head-pruned ``model`` computes: the heads :func:`prune_heads` removed come back with zero
    Q/K/V rows and zero output columns, so they add exactly nothing.

    This is the stock form of an SMP model: transformers 5 cannot rebuild pruned heads from
    a config, so a folder ``from_pretrained`` loads anywhere must hold dense-shaped weights.
    The global random state is left untouched (the new model's initial weights are all
    overwritten).
    """
    layers, heads, size = head_layout(model)
    keep = as_keep_mask(keep_mask)
    with torch.random.fork_rng(devices=[]):
        full = type(model)(model.config)
    full.to(next(model.parameters()).dtype)
    shapes = {name: value.shape for name, value in full.state_dict().items()}
    same = {name: value.detach().cpu() for name, value in model.state_dict().items()
            if shapes.get(name) == value.shape}
    full.load_state_dict(same, strict=False)  # the pruned Q/K/V and output weights next
    for index, (pruned, dense) in enumerate(zip(encoder_layers(model), encoder_layers(full))):
        kept = keep[index].nonzero().flatten().tolist()
        if len(kept) == heads:
            continue
        rows = torch.cat([torch.arange(h * size, (h + 1) * size) for h in kept])
        for role in HEAD_ROW_ROLES:  # the kept heads' output rows
            source, target = (get_submodule(m, LINEAR_ROLES[role]) for m in (pruned, dense))
            target.weight.zero_()
            target.weight[rows] = source.weight.detach().cpu()
            target.bias.zero_()
            target.bias[rows] = source.bias.detach().cpu()
        source, target = (get_submodule(m, ATTENTION_OUTPUT) for m in (pruned, dense))
        target.weight.zero_()  # the kept heads' input columns; the bias was loaded above
        target.weight[:, rows] = source.weight.detach().cpu()
    return full.eval()


def head_sparsity(keep_mask: torch.Tensor | Sequence[Sequence[bool]]) -> float:
    """Fraction of attention heads removed (the schema's ``head_sparsity``)."""
    keep = as_keep_mask(keep_mask)
    return 1.0 - keep.sum().item() / keep.numel()
