"""Target sparsities (``--targets``): the list's rule, and when a trial landed on one.

``launch --targets`` aims trials at them, ``analysis table`` reports the best score at each,
``confirm`` re-runs the trials that landed: all read the same rule and tolerance here.

Example:
    >>> parse_targets("0.97,0.5,0.9")
    (0.5, 0.9, 0.97)
    >>> landed_on(0.895, (0.5, 0.9, 0.97)), landed_on(0.8, (0.5, 0.9, 0.97))
    (0.9, None)
"""

from __future__ import annotations

from collections.abc import Sequence

#: A trial "landed" on a target when its weight_sparsity is this close (one point); also the
#: default ``--tolerance`` of ``analysis table``.
HIT_TOLERANCE = 0.01


def parse_targets(text: str) -> tuple[float, ...]:
    """``"0.5,0.9,0.97"`` -> ``(0.5, 0.9, 0.97)``: sorted, each in (0, 1), each once.

    Raises:
        ValueError: naming the bad entry and the rule (each layer words it as its own error).
    """
    parts = [p.strip() for p in str(text).split(",")]
    if not str(text).strip() or any(not p for p in parts):
        raise ValueError(f"--targets {text!r}: expected comma-separated sparsities in (0, 1), "
                         "e.g. 0.5,0.9,0.97 (no empty entries)")
    values = []
    for part in parts:
        try:
            value = float(part)
        except ValueError:
            raise ValueError(f"--targets: {part!r} is not a number; targets are "
                             "weight_sparsity values in (0, 1)") from None
        if not 0.0 < value < 1.0:  # also NaN
            raise ValueError(f"--targets: {part} is outside (0, 1); targets are "
                             "weight_sparsity values, e.g. 0.9 for 90% of the weights removed")
        values.append(value)
    duplicates = sorted({v for v in values if values.count(v) > 1})
    if duplicates:
        raise ValueError(f"--targets: {', '.join(f'{v:g}' for v in duplicates)} given "
                         "twice; each target once")
    return tuple(sorted(values))


def landed_on(achieved: float, targets: Sequence[float],
              tolerance: float = HIT_TOLERANCE) -> float | None:
    """The first of ``targets`` that ``achieved`` lies within ``tolerance`` of, or None."""
    near = [t for t in targets if abs(t - achieved) <= tolerance]
    return near[0] if near else None
