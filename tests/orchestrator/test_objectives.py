"""``launch --objectives``: reported metrics only, speed-up needs the latency measurement."""

from __future__ import annotations

import pytest

from orchestrator.cli import main
from orchestrator.errors import UsageError
from orchestrator.objectives import parse_objectives, with_objectives
from search_spaces import get_space


def _launch_error(capsys, *args: str) -> str:
    assert main(["launch", *args]) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def test_parse_gives_each_metric_its_direction():
    assert parse_objectives("score, weight_sparsity,speedup") == (
        ("score", "max"), ("weight_sparsity", "max"), ("speedup", "max"))
    assert parse_objectives("score,latency_ms")[1] == ("latency_ms", "min")
    for bad in ("", "score,score", "score,throughput", "speedup"):
        with pytest.raises(UsageError):
            parse_objectives(bad)


def test_the_space_keeps_everything_but_its_objectives():
    space = get_space("cap_soft_qqp")
    faster = with_objectives(space, "score,speedup")
    assert faster.objectives == (("score", "max"), ("speedup", "max"))
    assert (faster.name, faster.searched(), dict(faster.fixed)) == (
        space.name, space.searched(), dict(space.fixed))


def test_unreported_metric_is_one_line_exit_2(capsys, tmp_path):
    line = _launch_error(capsys, "--space", "cap_soft_qqp", "--profile", "smoke",
                         "--storage", str(tmp_path), "--objectives", "score,throughput")
    assert "'throughput' is not a reported metric" in line and "speedup" in line
    assert not any(tmp_path.iterdir())  # nothing created


def test_speedup_without_latency_measurement_is_refused(capsys, tmp_path):
    line = _launch_error(capsys, "--space", "cap_soft_qqp", "--profile", "smoke",
                         "--storage", str(tmp_path), "--objectives", "score,speedup")
    assert "needs measure_latency" in line and "--set measure_latency=true" in line
    assert not any(tmp_path.iterdir())


def test_final_only_metrics_relax_tunes_per_result_check(monkeypatch):
    from orchestrator.objectives import allow_final_only_metrics

    monkeypatch.delenv("TUNE_DISABLE_STRICT_METRIC_CHECKING", raising=False)
    allow_final_only_metrics(["score", "weight_sparsity"])
    import os

    assert "TUNE_DISABLE_STRICT_METRIC_CHECKING" not in os.environ
    allow_final_only_metrics(["score", "speedup"])
    assert os.environ["TUNE_DISABLE_STRICT_METRIC_CHECKING"] == "1"
