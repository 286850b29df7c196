"""Bad input: one clear line on stderr, a non-zero exit, nothing started or written."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from orchestrator.cli import main


def _launch(capsys, *args: str) -> tuple[int, str]:
    code = main(["launch", *args])
    err = capsys.readouterr().err.strip()
    return code, err


def _one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


def test_unknown_space(capsys, tmp_path):
    code, err = _launch(capsys, "--space", "cap_sof_qqp", "--storage", str(tmp_path))
    assert code == 2
    assert "unknown space 'cap_sof_qqp'" in _one_line(err)


@pytest.mark.parametrize("pair, message", [
    ("learning_rat=1e-5", "unknown DenseConfig key 'learning_rat'; did you mean 'learning_rate'"),
    ("max_steps=ten", "`max_steps` must be int, but got 'ten'"),
    ("oops", "--set expects key=value"),
])
def test_bad_set(capsys, tmp_path, pair, message):
    code, err = _launch(capsys, "--space", "dense_sst2", "--profile", "smoke", "--storage",
                        str(tmp_path), "--set", pair)
    assert code == 2 and message in _one_line(err)
    assert not list(tmp_path.iterdir())  # nothing written


def test_data_dir_that_does_not_exist(capsys, tmp_path):
    missing = tmp_path / "nope"
    code, err = _launch(capsys, "--space", "dense_sst2", "--profile", "smoke", "--storage",
                        str(tmp_path / "s"), "--data-dir", str(missing))
    assert code == 2 and str(missing) in _one_line(err)


def test_data_dir_without_the_split_names_the_missing_path(capsys, tmp_path):
    data = tmp_path / "glue" / "sst2"
    data.mkdir(parents=True)
    import pandas as pd

    pd.DataFrame({"sentence": ["a fine film"], "label": [1], "idx": [0]}).to_parquet(
        data / "train.parquet")  # train present, validation missing
    code, err = _launch(capsys, "--space", "dense_sst2", "--profile", "smoke", "--storage",
                        str(tmp_path / "s"), "--data-dir", str(tmp_path / "glue"))
    line = _one_line(err)
    assert code == 2 and "validation" in line and str(tmp_path / "glue") in line


def test_model_not_available_offline(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, err = _launch(capsys, "--space", "dense_sst2", "--profile", "smoke", "--storage",
                        str(tmp_path), "--model", "some-org/not-cached-bert")
    line = _one_line(err)
    assert code == 2 and "not-cached-bert" in line and "--model" in line


def test_storage_not_writable(capsys, tmp_path):
    if os.geteuid() == 0:
        blocked = tmp_path / "file"
        blocked.write_text("a file, not a folder")
        storage = blocked / "sub"  # cannot create a folder under a file, even as root
    else:
        storage = tmp_path / "ro"
        storage.mkdir(mode=0o500)
    code, err = _launch(capsys, "--space", "dense_sst2", "--profile", "smoke", "--storage",
                        str(storage))
    assert code == 2 and "is not writable" in _one_line(err)


@pytest.mark.parametrize("name", ["../escape", "a/b", "..", "/abs", "_artifacts"])
def test_name_that_would_leave_the_storage_root(capsys, tmp_path, name):
    code, err = _launch(capsys, "--space", "dense_sst2", "--profile", "smoke", "--storage",
                        str(tmp_path / "s"), "--name", name)
    assert code == 2 and "cannot leave the storage root" in _one_line(err)
    assert not (tmp_path / "escape").exists()


def test_help_imports_neither_torch_nor_ray():
    code = ("import sys\nfrom orchestrator.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "try:\n    main(['launch', '--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('torch', 'ray', 'transformers') if m in sys.modules]\n"
            "print('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert "HEAVY []" in out.stdout
    assert "--space" in out.stdout
