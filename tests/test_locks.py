"""The lock that make install, make test and CI use agrees with pyproject.toml's ranges."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCKED_EXTRAS = ("dev", "report", "dashboard")  # what the Makefile installs
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def _locked(path: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes), from a pip-compile file with its continuation lines."""
    text = path.read_text().replace("\\\n", " ")
    pins = {}
    for line in text.splitlines():
        match = PIN.match(line)
        if match:
            pins[canonicalize_name(match[1])] = (match[2], re.findall(r"--hash=sha256:(\w+)",
                                                                      line))
    return pins


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    return [Requirement(r) for r in
            [*project["dependencies"], *(r for name in LOCKED_EXTRAS for r in extras[name])]]


LOCK = _locked(ROOT / "locks" / "requirements.txt")
NO_DEPS = _locked(ROOT / "locks" / "no-deps.txt")


@pytest.mark.parametrize("requirement", _declared(), ids=str)
def test_every_declared_dependency_is_locked_inside_its_range(requirement):
    name = canonicalize_name(requirement.name)
    if name == "torch":  # installed first, at the Makefile's TORCH_SPEC
        assert "torch" not in LOCK
        return
    assert name in LOCK, f"{requirement} is not in locks/requirements.txt: run make lock"
    version = LOCK[name][0]
    assert requirement.specifier.contains(version, prereleases=True), (
        f"locked {name}=={version} is outside pyproject.toml's {requirement}: run make lock")


def test_every_locked_package_is_pinned_with_hashes():
    assert len(LOCK) > 100 and NO_DEPS  # the whole tree, not a stub
    for name, (version, hashes) in {**LOCK, **NO_DEPS}.items():
        assert hashes and all(len(h) == 64 for h in hashes), f"{name}=={version} has no hash"


def test_the_makefile_installs_from_the_lock_and_pins_torch_to_its_spec():
    makefile = (ROOT / "Makefile").read_text()
    assert "--require-hashes -r $(LOCK)" in makefile
    assert "--require-hashes -r $(NO_DEPS_LOCK)" in makefile
    torch_spec = re.search(r"^TORCH_SPEC \?= (\S+)$", makefile, re.M)[1]
    extra = (ROOT / "locks" / "extra.in").read_text().split()
    assert torch_spec in extra  # the lock was resolved against the torch the Makefile installs
