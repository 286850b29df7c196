"""The examples in the analysis docstrings run and hold."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["analysis.layout", "analysis.pareto", "analysis.fronts", "analysis.hypervolume", "analysis.io",
           "analysis.compare", "analysis.html", "analysis.history", "analysis.summary"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
