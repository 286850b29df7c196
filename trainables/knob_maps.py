"""Exact maps from a target ``weight_sparsity`` to each method's own knob (``--targets``).

Every method prunes in its own units: top-k (CAP-m, movement) keeps ``int(r * numel)`` of each
encoder weight matrix, SMP removes whole attention heads (``int(H * r)`` per layer, or
``round(L * H * r)`` overall), CAP-soft sets an L1 weight. The result schema measures them all
with one counting rule (methods.md 2.10): the six linear weights of every layer, their biases
and the LayerNorms, where only weights are ever pruned. So the knob that gives a target is a
function of the model's shapes (:class:`~trainables.param_layout.ParamLayout`, read from its
config alone: no weights, no torch for a folder or a cached hub model).

- :func:`topk_keep_ratio` searches the breakpoints of ``sum_m int(r * n_m)`` for the keep
  ratio whose count is nearest the target; the prediction it returns is that exact count.
- :func:`smp_prune_ratio` picks the head count nearest the target under the allocation rule
  and refuses a target beyond what removing heads can reach (all but one head per layer).
- :func:`soft_max_sparsity` is CAP-soft's ceiling (the sigmoid rule keeps at least
  ``int(0.005 * numel) + 1`` entries of each matrix); its knob is calibrated, not exact
  (``orchestrator.calibration``).

Example:
    >>> layout = ParamLayout(layers=4, hidden=32, intermediate=37, heads=4)
    >>> ratio, predicted = topk_keep_ratio(0.9, layout)
    >>> round(predicted, 4)
    0.9
"""

from __future__ import annotations

import math

from trainables.param_layout import ParamLayout

# The sigmoid-threshold rule's floor (trainables.cap.binarizers.FLOOR_FRACTION; not imported
# from there because that module needs torch).
SOFT_FLOOR_FRACTION = 0.005


class UnreachableTargetError(ValueError):
    """A target sparsity the method cannot reach on this model; the message names the max."""


def topk_remaining(keep_ratio: float, layout: ParamLayout) -> int:
    """Encoder parameters left by a top-k keep ratio: ``int(r * numel)`` of every matrix
    (``trainables.cap.binarizers.topk_mask``) plus every bias and LayerNorm."""
    return layout.fixed + sum(count * int(keep_ratio * numel)
                              for numel, count in layout.matrices)


def topk_max_sparsity(layout: ParamLayout) -> float:
    """Sparsity with every weight pruned (only biases and LayerNorms left)."""
    return layout.sparsity(layout.fixed)


def _check_target(target: float) -> None:
    if not (isinstance(target, (int, float)) and 0.0 < target < 1.0):
        raise ValueError(f"a target sparsity must be in (0, 1), but got {target!r}")


def topk_keep_ratio(target: float, layout: ParamLayout) -> tuple[float, float]:
    """``(keep_ratio, predicted_sparsity)``: the keep ratio whose exact count comes nearest
    to ``target`` under the counting rule.

    ``remaining(r)`` is a step function that jumps at ``k / numel`` for each matrix size; the
    nearest count is found among the midpoints between the breakpoints around the linear
    solution ``r0 = ((1 - target) * total - fixed) / weights`` (midpoints, so the floats the
    trainable multiplies never sit on a jump). Off by less than one weight per matrix.

    Raises:
        UnreachableTargetError: ``target`` above the sparsity of pruning every weight.
    """
    _check_target(target)
    ceiling = topk_max_sparsity(layout)
    if target > ceiling:
        raise UnreachableTargetError(
            f"target sparsity {target:g} is beyond what top-k pruning reaches on this model "
            f"(at most {ceiling:.4f}: biases and LayerNorms are never pruned)")
    wanted = (1.0 - target) * layout.total
    r0 = (wanted - layout.fixed) / layout.weights
    points = {0.0, 1.0}
    for numel, _ in layout.matrices:
        base = math.floor(r0 * numel)
        points.update(min(max(k / numel, 0.0), 1.0) for k in range(base - 2, base + 4))
    ordered = sorted(points)
    candidates = [(a + b) / 2 for a, b in zip(ordered, ordered[1:]) if b > a]
    ratio = min(candidates, key=lambda r: (abs(topk_remaining(r, layout) - wanted), r))
    return ratio, layout.sparsity(topk_remaining(ratio, layout))


def smp_max_sparsity(layout: ParamLayout) -> float:
    """Sparsity with all but one head removed from every layer (the FFN untouched)."""
    return layout.sparsity(layout.total - layout.layers * (layout.heads - 1)
                           * layout.params_per_head)


def smp_prune_ratio(target: float, layout: ParamLayout,
                    allocation: str = "per_layer") -> tuple[float, float]:
    """``(prune_ratio, predicted_sparsity)``: the head ratio whose head count comes nearest.

    ``per_layer`` removes ``int(H * r)`` heads of every layer (steps of ``L`` heads),
    ``global`` removes ``round(L * H * r)`` heads overall (steps of one head); both keep at
    least one head per layer. The prediction assumes no score ties (``mask_exact_count`` or
    a trained pruner): the faithful per-layer rule keeps more heads on ties.

    Raises:
        UnreachableTargetError: ``target`` above :func:`smp_max_sparsity`.
    """
    _check_target(target)
    ceiling = smp_max_sparsity(layout)
    if target > ceiling:
        raise UnreachableTargetError(
            f"target sparsity {target:g} is beyond what head pruning reaches on this model: "
            f"at most {ceiling:.4f} (all but one head per layer removed; the FFN, "
            f"{2 * layout.hidden * layout.intermediate * layout.layers / layout.total:.0%} "
            "of the counted parameters, is never pruned)")
    per_head = layout.params_per_head
    heads_wanted = target * layout.total / per_head
    if allocation == "per_layer":
        k = min(max(round(heads_wanted / layout.layers), 0), layout.heads - 1)
        ratio = _ratio_for(k, layout.heads, lambda r: int(layout.heads * r))
        removed = layout.layers * k
    elif allocation == "global":
        n = min(max(round(heads_wanted), 0), layout.layers * (layout.heads - 1))
        ratio = _ratio_for(n, layout.layers * layout.heads,
                           lambda r: round(layout.layers * layout.heads * r))
        removed = n
    else:
        raise ValueError(f"allocation must be per_layer or global, but got {allocation!r}")
    return ratio, layout.sparsity(layout.total - removed * per_head)


def _ratio_for(count: int, out_of: int, rule) -> float:
    """The ratio ``count / out_of``, nudged up until ``rule`` (the mask code's rounding) gives
    back ``count`` (``int(12 * (7 / 12))`` may be 6 in floating point)."""
    ratio = count / out_of
    while rule(ratio) < count:
        ratio = math.nextafter(ratio, 1.0)
    return ratio


def soft_max_sparsity(layout: ParamLayout) -> float:
    """CAP-soft's ceiling: every matrix keeps at least ``int(0.005 * numel) + 1`` entries."""
    floor = sum(count * (int(SOFT_FLOOR_FRACTION * numel) + 1)
                for numel, count in layout.matrices)
    return layout.sparsity(layout.fixed + floor)


def exact_knob(method: str, target: float, layout: ParamLayout,
               allocation: str = "per_layer") -> tuple[str, float, float]:
    """``(setting, value, predicted_sparsity)`` for an exact-map method.

    ``method`` is ``topk`` (CAP-m and movement: the final keep ratio ``final_threshold``) or
    ``smp`` (the head ``prune_ratio`` under ``allocation``).
    """
    if method == "topk":
        return ("final_threshold", *topk_keep_ratio(target, layout))
    if method == "smp":
        return ("prune_ratio", *smp_prune_ratio(target, layout, allocation))
    raise ValueError(f"no exact map for method {method!r}")
