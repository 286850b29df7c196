"""SMP's ``cal`` step: task scores, keep-mask rules and mask files (methods.md 1.5, 1.6).

Example:
    >>> scores = compute_head_scores(plm, cnn, task_tensors, pair=True)   # doctest: +SKIP
    >>> keep = head_mask_per_layer(scores, 0.5)                           # [L, H] bool
    >>> save_mask_json(keep, "head_mask.json")
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from trainables.smp.attention import SEQUENCE_KEYS
from trainables.smp.attention import attention_maps
from trainables.smp.attention import eval_mode
from trainables.smp.attention import pad_to
from trainables.smp.attention import score_heads
from trainables.smp.heads import as_keep_mask
from trainables.smp.pruner import MAP_SIZE


class PruneRatioError(ValueError):
    """A prune ratio outside [0, 1), or one that would leave a layer without heads."""


class MaskFileError(ValueError):
    """A mask file is not a list of L lists of H booleans."""


def compute_head_scores(plm: nn.Module, cnn: nn.Module, tensors: Mapping[str, torch.Tensor],
                        pair: bool, batch_size: int = 8) -> torch.Tensor:
    """Mean over batches of the batch-mean CNN scores over the whole set, in order: ``[L, H]``.

    As ``SMP:cal.py:346-381``: sequential batches of ``batch_size`` (the original's
    ``per_gpu_eval_batch_size``, default 8), eval mode (also the CNN's BN), no grad; the
    last, smaller batch weighs as much as a full one. ``plm`` needs eager attention.
    """
    total = int(tensors["input_ids"].shape[0])
    if total == 0 or batch_size < 1:
        raise ValueError(f"need >= 1 example and batch_size >= 1, got {total=}, {batch_size=}")
    device = next(cnn.parameters()).device
    per_batch = []
    with eval_mode(plm, cnn), torch.no_grad():
        for start in range(0, total, batch_size):
            batch = {k: tensors[k][start:start + batch_size] for k in SEQUENCE_KEYS
                     if k in tensors}
            maps = attention_maps(plm, pad_to(batch, MAP_SIZE)).to(device)
            per_batch.append(score_heads(cnn, maps, pair).cpu())
    return torch.stack(per_batch).mean(dim=0)


def _check_ratio(prune_ratio: float) -> None:
    if not isinstance(prune_ratio, (int, float)) or not 0 <= prune_ratio < 1:
        raise PruneRatioError(
            f"`prune_ratio` must be in [0, 1) (the fraction of heads removed), got {prune_ratio!r}"
        )


def head_mask_per_layer(scores: torch.Tensor, prune_ratio: float, *,
                        exact_count: bool = False) -> torch.Tensor:
    """Per-layer keep-mask ``[L, H]`` (True = keep), the rule of ``SMP:cal.py:376-379``.

    For each layer: sort its H scores ascending, ``bound`` = the value at position
    ``int(H * prune_ratio) - 1``, keep heads scoring strictly above ``bound``; so each
    layer keeps ``H - int(H * prune_ratio)`` heads (fewer on ties at the bound).
    Edge case: when ``int(H * prune_ratio) == 0`` the original indexes position -1 (the
    maximum) and keeps nothing; here no head is removed, since nothing was asked to be.

    Args:
        scores: ``[L, H]`` head scores (higher = more important).
        prune_ratio: fraction of each layer's heads to remove, in [0, 1).
        exact_count: not in the original (default off): break ties by head index so every
            layer keeps exactly ``H - int(H * prune_ratio)`` heads. An untrained or barely
            trained CNN in eval mode gives exactly tied scores (all 1.0).

    Raises:
        PruneRatioError: ratio outside [0, 1), or ties leaving a layer without heads.
    """
    _check_ratio(prune_ratio)
    layers, heads = scores.shape
    removed = int(heads * prune_ratio)
    if removed == 0:
        return torch.ones(layers, heads, dtype=torch.bool)
    if exact_count:
        order = scores.detach().cpu().sort(dim=1, stable=True).indices[:, removed:]
        return torch.zeros(layers, heads, dtype=torch.bool).scatter_(1, order, True)
    bound = scores.sort(dim=1).values[:, removed - 1 : removed]
    keep = (scores > bound).cpu()
    empty = [i for i in range(layers) if not keep[i].any()]
    if empty:
        raise PruneRatioError(
            f"prune_ratio={prune_ratio} leaves layers {empty} with no head under the per-layer "
            f"rule (keep scores > the {removed}-th lowest) because all their scores tie; "
            "pass exact_count=True to break ties by head index"
        )
    return keep


def head_mask_global(scores: torch.Tensor, prune_ratio: float) -> torch.Tensor:
    """One ranking across layers: remove the ``round(L*H*ratio)`` lowest-scoring heads,
    skipping any head that is the last one left in its layer (>= 1 head per layer).

    Not in the original (which is per layer only); ties break by (layer, head) order.
    ``round`` is Python's (half to even).

    Raises:
        PruneRatioError: ratio outside [0, 1), or more removals than ``L*H - L``.
    """
    _check_ratio(prune_ratio)
    layers, heads = scores.shape
    budget = round(layers * heads * prune_ratio)
    if budget > layers * heads - layers:
        raise PruneRatioError(
            f"prune_ratio={prune_ratio} removes {budget} of {layers * heads} heads, but the "
            f"global rule keeps >= 1 head in each of {layers} layers (at most "
            f"{layers * heads - layers} removals)"
        )
    keep = torch.ones(layers, heads, dtype=torch.bool)
    order = scores.detach().flatten().cpu().sort(stable=True).indices.tolist()
    left = [heads] * layers
    for flat in order:
        if budget == 0:
            break
        layer, head = divmod(flat, heads)
        if left[layer] > 1:
            keep[layer, head] = False
            left[layer] -= 1
            budget -= 1
    return keep


def _validated(value: object, source: str) -> list[list[bool]]:
    rows = value if isinstance(value, list) else None
    if not rows or not all(isinstance(r, list) and r for r in rows):
        raise MaskFileError(f"{source}: expected a list of L lists of H booleans, got "
                            f"{type(value).__name__}")
    if len({len(r) for r in rows}) != 1:
        counts = [len(r) for r in rows]
        raise MaskFileError(f"{source}: layers have different head counts {counts}")
    bad = [type(x).__name__ for r in rows for x in r if not _is_bool(x)]
    if bad:
        raise MaskFileError(f"{source}: mask entries must be booleans, found {sorted(set(bad))}")
    return [[bool(x) for x in r] for r in rows]


def _is_bool(x: object) -> bool:
    import numpy as np

    return isinstance(x, (bool, np.bool_))


def save_mask_json(mask: torch.Tensor | list[list[bool]], path: str | Path) -> Path:
    """Write a keep-mask as JSON (list of lists of bool, True = keep), atomically."""
    path = Path(path)
    rows = as_keep_mask(mask).tolist()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    tmp.write_text(json.dumps(rows) + "\n")
    os.replace(tmp, path)
    return path


def load_mask_json(path: str | Path) -> torch.Tensor:
    """Read a mask written by :func:`save_mask_json`: bool ``[L, H]``."""
    try:
        value = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise MaskFileError(f"{path}: not JSON: {exc}") from exc
    return torch.tensor(_validated(value, str(path)), dtype=torch.bool)


def import_original_mask(path: str | Path) -> torch.Tensor:
    """Read the original ``head_mask.bin`` (pickled list of lists of ``numpy.bool_``).

    Unpickled by :class:`trainables.smp._restricted.BoolMaskUnpickler`, which resolves
    nothing but the numpy bool-scalar constructors, so no other object is ever built.

    Raises:
        MaskFileError: the pickle references anything else or is not a bool matrix.
    """
    from trainables.smp._restricted import load_bool_pickle

    with open(path, "rb") as handle:
        value = load_bool_pickle(handle, MaskFileError)
    return torch.tensor(_validated(value, str(path)), dtype=torch.bool)


def heads_kept(mask: torch.Tensor) -> list[int]:
    """Kept heads per layer (handy for reports)."""
    return [int(n) for n in as_keep_mask(mask).sum(dim=1)]

