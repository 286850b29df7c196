"""The docs' "Add a space" example (docs/guide/extending.md, moved from the README) is real: its
code registers a space that works."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import search_spaces
from orchestrator.cli import main

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "guide" / "extending.md"


def _example() -> str:
    """The first Python block of the guide's "## Add a space" section."""
    text = GUIDE.read_text()
    section = text[text.index("## Add a space"):]
    section = section[:section.index("\n## ", 1)]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    assert blocks, "the guide's 'Add a space' section lost its example"
    return blocks[0]


@pytest.fixture
def registry(monkeypatch):
    """A copy of the space registry, so the example's space does not outlive the test."""
    monkeypatch.setattr(search_spaces, "SPACES", dict(search_spaces.SPACES))
    return search_spaces.SPACES


def test_the_readme_example_registers_a_space_that_show_space_prints(registry, capsys):
    exec(compile(_example(), str(GUIDE), "exec"), {"__name__": "readme_example"})
    space = registry["dense_sst2_short"]
    assert space.trainable == "dense" and space.searched() == ("learning_rate", "warmup_ratio")

    assert main(["show-space", "dense_sst2_short", "--profile", "smoke"]) == 0
    out = capsys.readouterr().out
    assert "learning_rate: float in [1e-05, 0.0001] (log)" in out
    assert "warmup_ratio: one of [0.0, 0.06, 0.1]" in out
    assert "num_train_epochs = 1" in out  # the smoke overlay wins over the fixed 2
    assert "task = 'sst2'" in out

    assert main(["show-space", "dense_sst2_short", "--profile", "paper"]) == 0
    assert "num_train_epochs = 2" in capsys.readouterr().out


def test_a_typo_in_a_registered_space_is_one_line_at_show_space(registry, capsys):
    code = _example().replace('"num_train_epochs": 2', '"num_train_epoch": 2')
    exec(compile(code, str(GUIDE), "exec"), {"__name__": "readme_example"})
    assert main(["show-space", "dense_sst2_short", "--profile", "smoke"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: space 'dense_sst2_short' with profile 'smoke':")
    assert "num_train_epoch" in err and len(err.splitlines()) == 1
