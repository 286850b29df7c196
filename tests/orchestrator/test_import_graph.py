"""No import circle in any package, the layers' import rules, and only ``__main__`` imports
the orchestrator's CLI.

Two views of the same rules: each orchestrator module imported alone in a fresh interpreter
must not pull in :mod:`orchestrator.cli` (what runs at import time), and the static graph of
every import, function bodies included (what runs later), must have no cycle (in any of the
project's packages, across packages too), no edge into the CLI or from one command module
into another; ``facts`` imports only the standard library, and ``analysis`` no sibling
package but ``facts``.
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
                   "orchestrator.spaces_cli",
                   "orchestrator.confirm"}


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


# -- every package -------------------------------------------------------------------------

PACKAGES = ("orchestrator", "trainables", "analysis", "search_spaces", "facts")
PROJECT = ROOT.parent


def _project_modules() -> dict[str, Path]:
    """Every module of the project's packages (sub-packages included) and its file."""
    found = {}
    for package in PACKAGES:
        for path in sorted((PROJECT / package).rglob("*.py")):
            parts = list(path.relative_to(PROJECT).with_suffix("").parts)
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


PROJECT_MODULES = _project_modules()


def _imported_names(path: Path) -> set[str]:
    """Every absolute module name ``path`` imports, at the top or inside a function
    (``from a import b`` gives ``a.b`` when that is a module, else ``a``)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in
                      PROJECT_MODULES else node.module for a in node.names}
    return names


def _project_module(name: str) -> str | None:
    """The project module ``name`` is (or lies in), or None for a module of elsewhere."""
    while name not in PROJECT_MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name if name in PROJECT_MODULES else None


PROJECT_GRAPH = {m: {d for n in _imported_names(path) if (d := _project_module(n))} - {m}
                 for m, path in PROJECT_MODULES.items()}


def test_the_project_graph_sees_every_package():
    assert {m.split(".", 1)[0] for m in PROJECT_GRAPH} == set(PACKAGES)
    assert "trainables.sparse.whole_model" in PROJECT_GRAPH["trainables.sparse.convert"]


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    state: dict[str, int] = {}  # 1 on the path, 2 done
    found: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for dep in sorted(graph[module]):
            if state.get(dep) == 1:
                found.append([*path, module, dep][[*path, module].index(dep):])
            elif dep not in state:
                visit(dep, [*path, module])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [])
    return found


def test_no_import_cycle_in_any_package_even_through_function_bodies():
    cycles = [" -> ".join(c) for c in _cycles(PROJECT_GRAPH)]
    assert cycles == [], "import cycles:\n" + "\n".join(cycles)


def test_the_cycle_check_finds_a_cycle():
    graph = {"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}, "a.w": set()}
    assert _cycles(graph) == [["a.x", "a.y", "a.z", "a.x"]]


def test_facts_imports_only_the_standard_library():
    outside = {m: sorted(n for n in _imported_names(path)
                         if n.split(".")[0] not in (*sys.stdlib_module_names, "facts"))
               for m, path in PROJECT_MODULES.items() if m.split(".")[0] == "facts"}
    assert {m: names for m, names in outside.items() if names} == {}
    code = ("import sys; before = set(sys.modules)\n"
            "import facts.columns, facts.tasks, facts.checkpoints, facts.targets\n"
            "print('\\n'.join(sorted(set(sys.modules) - before)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=_env(), timeout=300, check=True)
    loaded = {name.split(".")[0] for name in out.stdout.split()}
    assert loaded - {"facts"} <= set(sys.stdlib_module_names)


def test_analysis_imports_no_sibling_package_but_facts():
    siblings = set(PACKAGES) - {"analysis", "facts"}
    crossings = {m: sorted(d for d in deps if d.split(".")[0] in siblings)
                 for m, deps in PROJECT_GRAPH.items() if m.split(".")[0] == "analysis"}
    assert {m: deps for m, deps in crossings.items() if deps} == {}
