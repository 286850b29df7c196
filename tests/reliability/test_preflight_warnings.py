"""Launch-time checks that warn instead of refusing: a CAP schedule too short to prune."""

from __future__ import annotations

import search_spaces
from orchestrator.preflight import warn_short_cap_schedule
from orchestrator.settings import build_settings


def _sweep(space: str, profile: str, *sets: str):
    return build_settings(search_spaces.get_space(space), profile, sets=list(sets))


def test_a_cap_schedule_too_short_names_the_minimum(capsys):
    # 26 steps at the dev profile's score learning rate (0.1): what ended at 0 sparsity
    warn_short_cap_schedule(_sweep("cap_soft_qqp", "dev", "max_steps=26"), train_rows=8000)
    out = capsys.readouterr().out
    assert out.startswith("warning: CAP trials of cap_soft_qqp train 26 steps")
    assert "need at least 50 steps" in out


def test_the_demo_and_dev_schedules_do_not_warn(capsys):
    warn_short_cap_schedule(_sweep("cap_soft_qqp", "demo"), train_rows=384)
    warn_short_cap_schedule(_sweep("cap_topk_qqp", "dev"), train_rows=8000)
    warn_short_cap_schedule(_sweep("dense_qqp", "smoke"), train_rows=4)  # not CAP
    assert capsys.readouterr().out == ""
