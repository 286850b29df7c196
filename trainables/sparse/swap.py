"""Putting a kernel in place of a model's linear (and which linears feed attention).

Both the per-layer choice (:func:`trainables.sparse.convert.sparsify`) and the whole-model
tuning (:mod:`trainables.sparse.whole_model`) swap linears with :func:`install`.

Example:
    >>> feeds_attention("bert.encoder.layer.3.attention.self.key")
    True
"""

from __future__ import annotations

from torch import nn

from trainables.sparse.kernels import FusedActivation
from trainables.sparse.kernels import TiledCsrLinear
from trainables.sparse.kernels import is_exact_gelu


def feeds_attention(name: str) -> bool:
    """Whether linear ``name`` is a query, key or value projection (BERT's layout table)."""
    from trainables.models import HEAD_ROW_ROLES, LINEAR_ROLES

    return name.endswith(tuple("." + LINEAR_ROLES[role] for role in HEAD_ROW_ROLES))


def install(root: nn.Module, name: str, module: nn.Module) -> None:
    """Put ``module`` at ``name`` in ``root``; a ``csr_tiled`` FFN-in layer takes over the
    exact GELU that follows it (:class:`~trainables.sparse.kernels.FusedActivation`), and
    any other kernel there gets the activation back."""
    parent_name, _, attr = name.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, attr, module)
    act = getattr(parent, "intermediate_act_fn", None)  # BertIntermediate: dense, then act
    if attr != "dense" or not isinstance(act, nn.Module):
        return
    original = act.original if isinstance(act, FusedActivation) else act
    if isinstance(module, TiledCsrLinear) and is_exact_gelu(original):
        module.activation = "gelu"
        parent.intermediate_act_fn = FusedActivation(original)
    elif isinstance(act, FusedActivation):
        parent.intermediate_act_fn = original
