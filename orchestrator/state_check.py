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


def journal_problem(journal: Any) -> str | None:
    """What is wrong with the Optuna journal at ``journal`` (a local file), or None.

    Optuna reads a journal line by line: a last record cut mid-write (a killed driver, a full
    disk) is skipped without a word, so its trial vanishes from ``status``, and the next
    record ``resume`` appends glues onto it, which turns the journal into invalid JSON (a
    traceback on every later read). A line that is not JSON fails every read.
    """
    from pathlib import Path

    path = Path(journal)
    if not path.is_file():
        return None
    data = path.read_bytes()
    if not data:
        return None
    lines = data.split(b"\n")
    for number, line in enumerate(lines[:-1], start=1):
        if not line.strip():
            continue
        try:
            json.loads(line)
        except (ValueError, UnicodeDecodeError) as exc:
            return f"line {number} is not a valid record ({type(exc).__name__}: {exc})"
    if lines[-1]:  # no newline at the end: the last record was cut mid-write
        whole = len(data) - len(lines[-1])
        return (f"its last record (line {len(lines)}, {len(lines[-1])} bytes) is cut off "
                f"mid-write; the {whole} bytes before it are whole (`truncate -s {whole} "
                f"{path}` drops the cut record and loses only that one update)")
    return None


def check_journal_whole(journal: Any, name: str) -> None:
    """``resume``: refuse a damaged journal before anything appends to it."""
    problem = journal_problem(journal)
    if problem is not None:
        raise DamagedStateError(f"cannot resume {name!r}: the Optuna journal {journal} is "
                                f"damaged: {problem}")


#: Tune's state that ``resume`` needs besides ``tuner.pkl``, and what is lost without it.
REQUIRED_STATE = (
    ("experiment_state-*.json", "which trials ran and how far"),
    ("searcher-state-*.pkl", "what the searcher asked and was told"),
    ("search_gen_state-*.json", "how many trials were already asked for"),
)


def missing_state(storage: Any, folder: str, journal_present: bool) -> list[str]:
    """Names (patterns) of the state files a resume needs that the folder lacks."""
    missing = [pattern for pattern, _ in REQUIRED_STATE
               if _newest(storage, folder, pattern) is None]
    if not journal_present:
        missing.append("optuna.journal")
    return missing


def check_state_complete(storage: Any, folder: str, name: str, *, journal_present: bool,
                         space: str, trials_with_rows: int, finished_trials: int,
                         num_samples: int | None) -> None:
    """Refuse to resume when state that Tune (or the study) needs was deleted.

    Without ``experiment_state-*.json`` Tune starts the sweep over; without the searcher's or
    the search generator's state it asks for the whole budget again: either way a finished
    sweep grows and trials are run twice. The result rows and the journal cannot stand in for
    Tune's pickled trials, so the sweep is not rebuilt from them; it is refused, with how to
    go on (a new experiment seeded with this one's finished trials). A sweep that stopped
    before its first trial reported (no rows, no experiment state) simply starts again.
    """
    missing = missing_state(storage, folder, journal_present)
    if not missing or (trials_with_rows == 0 and "experiment_state-*.json" in missing):
        return
    lost = dict(REQUIRED_STATE).get(missing[0], "the Optuna study")
    done = (f"the sweep had finished ({finished_trials} of {num_samples} trials), so there is "
            "nothing to resume" if num_samples and finished_trials >= num_samples else
            f"{finished_trials} trials have final rows in results/, which are kept")
    raise DamagedStateError(
        f"cannot resume {name!r}: {' and '.join(missing)} missing from the experiment folder "
        f"(deleted?), so resume cannot know {lost} and would run trials again; {done}. "
        f"Continue the search in a new experiment with `python -m orchestrator launch "
        f"--space {space} --warm-start {name} --name NEW`")


def refused_trainer_state(folder: str, finished: set[str]) -> tuple[str, str] | None:
    """``(file, why)`` for the first unfinished trial whose latest ``trainer.pt`` (what the
    trial restores from) ``torch.load(weights_only=True)`` refuses, or None. Local folders
    only; memory-mapped, so tensors are not read.

    The trial itself refuses such a file too, but only after the cluster started, as a Ray
    traceback; here it is one line naming the file, before anything starts.
    """
    import pickle
    from pathlib import Path

    root = Path(folder)
    if not root.is_dir():
        return None
    for trial in sorted(p for p in root.iterdir() if p.is_dir() and "_" in p.name):
        if trial.name.rsplit("_", 1)[1] in finished:
            continue  # a finished trial is never restored from its checkpoint
        states = sorted(trial.glob("checkpoint_*/trainer.pt"))
        if not states:
            continue
        import torch

        try:
            torch.load(states[-1], map_location="cpu", weights_only=True, mmap=True)
        except pickle.UnpicklingError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else "refused"
            return str(states[-1]), first
        except (RuntimeError, EOFError, OSError, ValueError):
            continue  # unreadable rather than refused: Tune falls back or the trial says so
    return None


def check_trainer_states(folder: str, name: str, finished: set[str]) -> None:
    """``resume``: refuse a trial checkpoint that holds pickled code before Ray starts."""
    found = refused_trainer_state(folder, finished)
    if found is None:
        return
    path, why = found
    raise DamagedStateError(
        f"cannot resume {name!r}: {path} holds objects other than tensors and plain values, "
        f"which are refused (torch.load weights_only=True: {why[:160]}); this program never "
        "writes such a file, so it was replaced. Nothing was started or changed")
