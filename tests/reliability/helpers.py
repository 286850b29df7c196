"""Helpers of the reliability tests: fake experiments, a free port, a one-line error check."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s}s")


def fake_experiment_with_study(storage: Path, name: str, trials: int = 2) -> Path:
    """An experiment folder with experiment.json and a journal holding one study."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    folder = storage / name
    (folder / "results").mkdir(parents=True)
    (folder / "experiment.json").write_text(json.dumps({"name": name, "space": "calibrate"}))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        storage=JournalStorage(JournalFileBackend(str(folder / "optuna.journal"))),
        study_name=name, directions=["maximize"])
    for i in range(trials):
        study.add_trial(optuna.trial.create_trial(params={}, distributions={}, values=[i]))
    return folder


def study_names(journal: Path) -> list[str]:
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(journal)))
    return [s.study_name for s in optuna.get_all_study_summaries(storage)]


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]
