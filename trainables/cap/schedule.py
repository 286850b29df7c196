"""Pure schedule functions of the optimizer step (methods.md 2.4 and 2.9).

One warm-up length ``W`` (``--warmup_steps``) drives both the learning-rate warm-up and the
pruning schedule. The threshold is flat for the first ``initial_warmup * W`` steps, follows a
cubic to the final value, and is flat again for the last ``final_warmup * W`` steps.

Example (the shipped QQP topk script: T = 113,710, W = 11,000, iw = 2, fw = 3):
    >>> threshold_at(22_000, 113_710, 11_000, 2, 3, 1.0, 0.03)
    1.0
    >>> threshold_at(80_711, 113_710, 11_000, 2, 3, 1.0, 0.03)
    0.03
"""

from __future__ import annotations


def _check_schedule(
    step: int, total_steps: int, warmup_steps: int, initial_warmup: float, final_warmup: float
) -> None:
    if step < 0:
        raise ValueError(f"`step` must be >= 0, but got {step=}")
    if total_steps < 1:
        raise ValueError(f"`total_steps` must be >= 1, but got {total_steps=}")
    if warmup_steps < 0:
        raise ValueError(f"`warmup_steps` must be >= 0, but got {warmup_steps=}")
    if initial_warmup < 0 or final_warmup < 0:
        raise ValueError(
            f"`initial_warmup` and `final_warmup` must be >= 0, but got "
            f"{initial_warmup=}, {final_warmup=}"
        )


def threshold_at(
    step: int,
    total_steps: int,
    warmup_steps: int,
    initial_warmup: float,
    final_warmup: float,
    initial_threshold: float,
    final_threshold: float,
) -> float:
    """The pruning threshold at optimizer step ``step`` (``schedule_threshold`` of the original).

    Args:
        step: the global optimizer step ``t``, read before the update.
        total_steps: ``T``, optimizer steps of the whole run.
        warmup_steps: ``W``, also the learning-rate warm-up length.
        initial_warmup: ``iw``; the threshold stays initial for ``t <= iw * W``.
        final_warmup: ``fw``; the threshold is final for ``t > T - fw * W``.
        initial_threshold: keep ratio (topk) or sigmoid threshold (soft) at the start.
        final_threshold: the value reached at the end of the cubic.

    Returns:
        ``final + (initial - final) * (1 - (t - iw*W) / (T - (iw + fw)*W)) ** 3`` in between.

    Example:
        >>> threshold_at(0, 100, 10, 1, 2, 1.0, 0.1)
        1.0
    """
    _check_schedule(step, total_steps, warmup_steps, initial_warmup, final_warmup)
    start = initial_warmup * warmup_steps  # 1. flat at the initial value until here
    if step <= start:
        return float(initial_threshold)
    if step > total_steps - final_warmup * warmup_steps:  # 2. flat at the final value
        return float(final_threshold)
    # 3. cubic; this branch implies T - (iw + fw) * W > t - iw * W > 0, so no division by 0.
    span = total_steps - (initial_warmup + final_warmup) * warmup_steps
    remaining = 1.0 - (step - start) / span
    return float(final_threshold + (initial_threshold - final_threshold) * remaining**3)


def lambda_at(
    step: int,
    total_steps: int,
    warmup_steps: int,
    initial_warmup: float,
    final_warmup: float,
    initial_threshold: float,
    final_threshold: float,
    final_lambda: float,
) -> float:
    """The L1 penalty weight: ``final_lambda * threshold_at(...) / final_threshold``.

    With ``initial_threshold = 0`` (the soft scripts) it rises from 0 to ``final_lambda`` along
    the threshold's cubic (methods.md 2.4).

    Example:
        >>> lambda_at(0, 100, 10, 1, 2, 0.0, 0.1, 550.0)
        0.0
    """
    if final_threshold == 0:
        raise ValueError(
            f"`final_threshold` must be non-zero to scale lambda, got {final_threshold=}"
        )
    threshold = threshold_at(
        step,
        total_steps,
        warmup_steps,
        initial_warmup,
        final_warmup,
        initial_threshold,
        final_threshold,
    )
    return float(final_lambda * threshold / final_threshold)

