"""The learning-rate multiplier every trainable shares (torch-free, a pure function)."""

from __future__ import annotations


def lr_multiplier(step: int, warmup_steps: int, total_steps: int) -> float:
    """Linear warm-up to 1 over ``warmup_steps``, then linear decay to 0 at ``total_steps``.

    transformers' ``get_linear_schedule_with_warmup``, as the seeds use it.

    Example:
        >>> lr_multiplier(5, 10, 110), lr_multiplier(60, 10, 110)
        (0.5, 0.5)
    """
    if step < warmup_steps:
        return step / max(1, warmup_steps)
    return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))
