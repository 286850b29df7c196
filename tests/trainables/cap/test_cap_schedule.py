"""Pure schedules (methods.md 2.4, 2.9): cubic threshold and lambda ramp (the learning rate: tests/trainables)."""

from __future__ import annotations

import itertools

import pytest

from trainables.cap import lambda_at
from trainables.cap import threshold_at

# The shipped QQP topk script: T = 11,371 batches x 10 epochs, W = 11,000, iw = 2, fw = 3.
T, W, IW, FW = 113_710, 11_000, 2, 3
START, END = IW * W, T - FW * W  # 22,000 and 80,710


def topk(step):
    return threshold_at(step, T, W, IW, FW, 1.0, 0.03)


def test_flat_initial_phase_up_to_and_including_iw_times_w():
    assert topk(0) == 1.0
    assert topk(START) == 1.0
    assert topk(START + 1) < 1.0


def test_midpoint_of_the_cubic():
    midpoint = (START + END) // 2  # 51,355: (1 - 1/2)^3 = 1/8 of the way back
    assert topk(midpoint) == pytest.approx(0.03 + (1.0 - 0.03) / 8)


def test_final_phase():
    assert topk(END) == pytest.approx(0.03)  # the cubic reaches final exactly at T - fw*W
    assert topk(END + 1) == 0.03
    assert topk(T) == 0.03


def test_cubic_is_monotone_between_the_edges():
    values = [topk(s) for s in range(START, END + 1, 997)]
    assert all(a >= b for a, b in itertools.pairwise(values))


def test_soft_lambda_ramp():
    def lam(step):
        return lambda_at(step, T, W, IW, FW, 0.0, 0.1, 550.0)

    assert lam(0) == 0.0
    assert lam(START) == 0.0
    assert lam((START + END) // 2) == pytest.approx(550.0 * (0.1 - 0.1 / 8) / 0.1)
    assert lam(T) == pytest.approx(550.0)


def test_without_warmup_the_cubic_spans_the_whole_run():
    assert threshold_at(0, 100, 0, 2, 3, 1.0, 0.1) == 1.0
    assert threshold_at(50, 100, 0, 2, 3, 1.0, 0.1) == pytest.approx(0.1 + 0.9 / 8)
    assert threshold_at(100, 100, 0, 2, 3, 1.0, 0.1) == pytest.approx(0.1)


def test_schedule_validation():
    with pytest.raises(ValueError, match="`step` must be >= 0"):
        topk(-1)
    with pytest.raises(ValueError, match="`total_steps` must be >= 1"):
        threshold_at(0, 0, 0, 1, 1, 1.0, 0.1)
    with pytest.raises(ValueError, match="`warmup_steps` must be >= 0"):
        threshold_at(0, 10, -1, 1, 1, 1.0, 0.1)
    with pytest.raises(ValueError, match="final_threshold"):
        lambda_at(0, 10, 1, 1, 1, 0.0, 0.0, 5.0)
