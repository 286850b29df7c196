"""Before ``resume`` hands an experiment to Ray Tune: is the state it restores from whole?

Tune reads ``experiment_state-*.json`` (the newest), the searcher's pickle and ``tuner.pkl``.
When one of them is truncated (a disk that filled up while an older version of this program,
or another tool, wrote it in place) Tune logs the error and then waits forever on a run with
no trials. This check reads each file without unpickling anything (JSON is parsed, pickles
are walked opcode by opcode to their STOP) and fails with what to do instead.
"""

from __future__ import annotations

import json
import pickletools
from pathlib import PurePosixPath
from typing import Any

from orchestrator.errors import OrchestratorError


class DamagedStateError(OrchestratorError):
    """Tune's saved state is unreadable; resume cannot continue the sweep from it."""

    exit_code = 2


def _newest(storage: Any, folder: str, pattern: str) -> str | None:
    names = storage.list_names(folder, pattern)
    return f"{folder}/{names[-1]}" if names else None  # names carry a sortable timestamp


def damaged_state(storage: Any, folder: str) -> tuple[str, str] | None:
    """``(file, what is wrong)`` for the first unreadable state file, or None."""
    checks = [(_newest(storage, folder, "experiment_state-*.json"), "json"),
              (_newest(storage, folder, "searcher-state-*.pkl"), "pickle"),
              (_newest(storage, folder, "search_gen_state-*.json"), "pickle"),  # cloudpickle
              (f"{folder}/tuner.pkl" if storage.is_file(f"{folder}/tuner.pkl") else None,
               "pickle")]
    for path, kind in checks:
        if path is None:
            continue
        data = storage.read_bytes(path)
        try:
            if kind == "json":
                json.loads(data)
            else:
                for _ in pickletools.genops(data):
                    pass
        except (ValueError, UnicodeDecodeError) as exc:
            return path, f"{type(exc).__name__}: {exc}"
    return None


def check_state_readable(storage: Any, folder: str, name: str) -> None:
    """Raise :class:`DamagedStateError` (with what to do) when Tune's state is damaged."""
    found = damaged_state(storage, folder)
    if found is None:
        return
    path, problem = found
    raise DamagedStateError(
        f"cannot resume {name!r}: Ray Tune's state file {PurePosixPath(path).name} is damaged "
        f"({problem[:120]}), probably written while the disk was full. The result rows in "
        f"results/ are intact; continue the search in a new experiment with `python -m "
        f"orchestrator launch --space SPACE --warm-start {name} --name NEW` (it starts from "
        "this experiment's finished trials)")
