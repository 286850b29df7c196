"""No import circle inside ``orchestrator/``, and nothing but ``__main__`` imports the CLI.

Two views of the same rule: each module imported alone in a fresh interpreter must not pull
in :mod:`orchestrator.cli` (what runs at import time), and the static graph of every
``orchestrator`` import, function bodies included (what runs later), must have no cycle and
no edge into the CLI or from one command module into another.
"""

from __future__ import annotations

import ast
import os
import pkgutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import orchestrator

ROOT = Path(orchestrator.__file__).resolve().parent
MODULES = sorted(f"orchestrator.{m.name}" for m in pkgutil.iter_modules([str(ROOT)])
                 if m.name != "__main__")
#: One module per subcommand (cli.COMMANDS): they may import shared modules, not each other.
COMMAND_MODULES = {"orchestrator.launch", "orchestrator.resume", "orchestrator.status",
                   "orchestrator.dashboard", "orchestrator.artifacts_cli",
                   "orchestrator.spaces_cli"}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT.parent), env.get("PYTHONPATH", "")])
    return env


def _modules_after_import(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=_env(), timeout=300, check=False)
    assert out.returncode == 0, f"importing {module} alone failed:\n{out.stderr[-2000:]}"
    return set(out.stdout.split())


def test_each_module_imports_alone_without_the_cli():
    with ThreadPoolExecutor(max_workers=2) as pool:
        loaded = dict(zip(MODULES, pool.map(_modules_after_import, MODULES)))
    offenders = [m for m, mods in loaded.items()
                 if m != "orchestrator.cli" and "orchestrator.cli" in mods]
    assert not offenders, f"these modules import orchestrator.cli: {offenders}"
    assert "torch" not in loaded["orchestrator.cli"]


def test_help_imports_neither_torch_nor_the_commands():
    code = ("import sys\nfrom orchestrator.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print('\\n'.join(sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=_env(), timeout=300, check=True)
    loaded = set(out.stdout.split())
    assert "torch" not in loaded and "ray" not in loaded
    assert not loaded & COMMAND_MODULES


def _imports(path: Path) -> set[str]:
    """Every orchestrator module ``path`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        found |= {n for n in names if n in MODULES}
    return found


GRAPH = {m: _imports(ROOT / f"{m.split('.', 1)[1]}.py") - {m} for m in MODULES}


def test_only_main_imports_the_cli():
    assert [m for m, deps in GRAPH.items() if "orchestrator.cli" in deps] == []
    assert "orchestrator.cli" in _imports(ROOT / "__main__.py")


def test_commands_do_not_import_each_other():
    crossings = {m: sorted(GRAPH[m] & COMMAND_MODULES) for m in MODULES
                 if GRAPH[m] & COMMAND_MODULES}
    assert crossings == {}


def test_no_import_cycle_even_through_function_bodies():
    state: dict[str, int] = {}  # 1 on the path, 2 done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for dep in sorted(GRAPH[module]):
            if state.get(dep) == 1:
                pytest.fail("import cycle: " + " -> ".join([*path, module, dep]))
            if dep not in state:
                visit(dep, [*path, module])
        state[module] = 2

    for module in MODULES:
        if module not in state:
            visit(module, [])
