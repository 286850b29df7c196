"""Writes that survive a full disk, credentials kept out of messages, failures that say why."""

from __future__ import annotations

import errno
import json
import sys
from types import SimpleNamespace

import pytest

from orchestrator import atomic_fs
from orchestrator.atomic_fs import atomic_local_filesystem
from orchestrator.console import disk_full
from orchestrator.experiment import Experiment
from orchestrator.storage import open_storage, redact
from orchestrator.state_check import DamagedStateError, check_state_readable


class _FullAfter:
    """A file object that raises ENOSPC once ``limit`` bytes were written (a disk filling)."""

    def __init__(self, inner, limit: int) -> None:
        self.inner, self.left = inner, limit

    def write(self, data) -> int:
        if len(data) > self.left:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.left -= len(data)
        return self.inner.write(data)

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.inner.close()


def test_a_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    fs = atomic_local_filesystem()
    path = tmp_path / "experiment_state.json"
    with fs.open_output_stream(str(path)) as out:
        out.write(b'{"good": true}')
    real_open = open
    monkeypatch.setattr(atomic_fs, "open", lambda p, m: _FullAfter(real_open(p, m), 4),
                        raising=False)
    with pytest.raises(OSError, match="No space left"):
        with fs.open_output_stream(str(path)) as out:
            out.write(b'{"new": "state that does not fit"}')
    assert json.loads(path.read_text()) == {"good": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["experiment_state.json"]


def test_copy_files_through_the_atomic_filesystem(tmp_path):
    import pyarrow.fs as pafs

    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "a.bin").write_bytes(b"x" * 3_000_000)
    pafs.copy_files(str(src), str(dst), destination_filesystem=atomic_local_filesystem())
    assert (dst / "sub" / "a.bin").read_bytes() == b"x" * 3_000_000
    assert not list(dst.rglob("*.tmp"))


def test_the_filesystem_pickles_for_ray_workers():
    import pickle

    fs = pickle.loads(pickle.dumps(atomic_local_filesystem()))
    assert fs.type_name == "py::prunesweep-atomic-local"


def test_storage_write_leaves_no_temporary_file(tmp_path, monkeypatch):
    storage = open_storage(str(tmp_path))
    real_open = open
    import builtins

    monkeypatch.setattr(builtins, "open", lambda p, m="r", *a, **k: _FullAfter(
        real_open(p, m, *a, **k), 0) if "w" in m else real_open(p, m, *a, **k))
    with pytest.raises(OSError):
        storage.write_bytes(str(tmp_path / "row.parquet"), b"data")
    monkeypatch.undo()
    assert list(tmp_path.iterdir()) == []


def test_disk_full_is_found_inside_a_wrapped_error():
    try:
        try:
            raise OSError(errno.ENOSPC, "No space left on device", "/exps/x.parquet")
        except OSError as exc:
            raise RuntimeError("TuneError: a callback failed") from exc
    except RuntimeError as wrapped:
        assert disk_full(wrapped) == "No space left on device: /exps/x.parquet"
    assert disk_full(ValueError("something else")) == ""


def test_damaged_state_is_named(tmp_path):
    (tmp_path / "experiment_state-2026.json").write_text('{"trial_data": [')
    with pytest.raises(DamagedStateError, match="experiment_state-2026.json is damaged.*"
                       "--warm-start e"):
        check_state_readable(open_storage(str(tmp_path)), str(tmp_path), "e")
    (tmp_path / "experiment_state-2026.json").write_text("{}")
    (tmp_path / "searcher-state-2026.pkl").write_bytes(b"\x80\x04\x95")  # a cut pickle
    with pytest.raises(DamagedStateError, match="searcher-state-2026.pkl"):
        check_state_readable(open_storage(str(tmp_path)), str(tmp_path), "e")


@pytest.mark.parametrize("text, secret", [
    ("s3://AKIA:SECRET@bucket/x", "SECRET"),
    ("--storage gs://user:pw@b/x?secret_key=SECRET&region=eu", "SECRET"),
    ("s3://bucket/x?access_key=AKIA&session_token=TOKEN", "TOKEN"),
])
def test_redact(text, secret):
    assert secret not in redact(text) and "***" in redact(text)


def test_experiment_json_holds_a_redacted_command_line(tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "argv", ["orchestrator", "launch", "--storage",
                                      "s3://AKIA:SECRET@bucket/x"])
    experiment = Experiment.at(str(tmp_path), "e")
    experiment.create({})
    record = json.loads((tmp_path / "e" / "experiment.json").read_text())
    assert record["command"][-1] == "s3://***@bucket/x"


def test_a_trial_that_failed_before_reporting_says_why(capsys):
    from orchestrator.progress import ConsoleProgress

    console = ConsoleProgress("smp_mrpc", [], ["score"], num_samples=4, concurrency=1)
    error = ("Traceback (most recent call last):\n  ...\n"
             "PrunerCheckpointError: pruner checkpoint /x does not exist\n")
    trial = SimpleNamespace(trial_id="t1", last_result={}, config={}, status="ERROR",
                            error_message=error)
    console.on_trial_error(0, [trial], trial)
    line = capsys.readouterr().out.strip()
    assert line.startswith("[1/4] trial smp_mrpc_t1 failed: PrunerCheckpointError: pruner "
                           "checkpoint /x does not exist ")


def test_the_limiter_frees_slots_of_trials_tune_lost():
    from ray.tune.search import ConcurrencyLimiter
    from ray.tune.search.basic_variant import BasicVariantGenerator  # noqa: F401 (ray import)
    from ray.tune.search.searcher import Searcher

    from orchestrator.live_trials import LiveTrialsSync

    class Always(Searcher):
        def suggest(self, trial_id):
            return {"x": 1}

        def on_trial_complete(self, trial_id, result=None, error=False):
            pass

    limiter = ConcurrencyLimiter(Always(metric="m", mode="max"), max_concurrent=2)
    assert limiter.suggest("a") and limiter.suggest("b")
    assert limiter.suggest("c") is None  # full
    # a restore from a state that never saw trial b: Tune knows a (running) and x (failed)
    sync = LiveTrialsSync(limiter)
    sync.on_step_begin(0, [SimpleNamespace(trial_id="a", status="RUNNING"),
                           SimpleNamespace(trial_id="x", status="ERROR")])
    assert limiter.live_trials == {"a"}
    assert limiter.suggest("d") == {"x": 1}  # the sweep goes on instead of waiting forever
