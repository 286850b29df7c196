"""Every package ``__init__`` of the trainables (and ``facts``) is a true table of contents.

Each public module of the package is named in its ``__init__``'s docstring, so a module added
without a line there (or one renamed) fails here instead of leaving a stale list.
"""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest

PACKAGES = ("trainables", "trainables.cap", "trainables.smp", "trainables.sparse", "facts")


def _listed(doc: str, module: str) -> bool:
    # a line that starts with the name, or a :mod: reference to it
    return bool(re.search(rf"(^\s+{module}\b|[.~`]{module}\b)", doc, re.M))


@pytest.mark.parametrize("name", PACKAGES)
def test_every_public_module_is_listed_in_its_package_docstring(name):
    package = importlib.import_module(name)
    modules = [m.name for m in pkgutil.iter_modules(package.__path__)
               if not m.name.startswith("_")]
    missing = [m for m in modules if not _listed(package.__doc__ or "", m)]
    assert modules and missing == []


def test_a_missing_module_is_noticed():
    assert not _listed("Modules:\n    dense   the dense trainable\n", "knob_maps")
    assert _listed("- :mod:`~trainables.sparse.plan`: the plan\n", "plan")
