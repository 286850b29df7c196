"""``pruner=released-*``: the authors' files, pinned, verified, fetched once, offline-safe.

Uses ../shared/data/smp/base.bin (the real released file); skipped where it is absent. No
test touches the network: the fetch goes through a ``file://`` URL or a patched opener.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from pathlib import Path

import pytest

import trainables.smp.released as released
from trainables.config import ConfigError
from trainables.config import from_mapping
from trainables.reporting import RecordingReporter
from trainables.smp import SmpConfig
from trainables.smp.pruner import load_pruner_checkpoint
from trainables.smp.released import RELEASED
from trainables.smp.released import ReleasedPrunerError
from trainables.smp.released import released_checkpoint
from trainables.smp.released import released_dir
from trainables.smp.trainable import run

SHARED_BASE = Path(__file__).resolve().parents[4] / "shared" / "data" / "smp" / "base.bin"
needs_base = pytest.mark.skipif(not SHARED_BASE.is_file(),
                                reason=f"needs the released pruner at {SHARED_BASE}")


@pytest.fixture
def online(monkeypatch):
    """Downloads allowed (the session runs with HF_HUB_OFFLINE=1); the opener is patched."""
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)


def from_shared(monkeypatch) -> None:
    """Point released-base's pinned URL at the shared copy (a file:// URL, no network)."""
    spec = dataclasses.replace(RELEASED["released-base"], url=SHARED_BASE.as_uri())
    monkeypatch.setitem(RELEASED, "released-base", spec)


@needs_base
def test_pinned_checksum_is_the_shared_files():
    digest = hashlib.sha256(SHARED_BASE.read_bytes()).hexdigest()
    assert digest == RELEASED["released-base"].sha256
    assert SHARED_BASE.stat().st_size == RELEASED["released-base"].size
    assert "thunlp/SMP/raw/" + released.SMP_COMMIT in RELEASED["released-base"].url


@needs_base
def test_first_use_fetches_verifies_and_caches(tmp_path, monkeypatch, online):
    from_shared(monkeypatch)
    path, digest = released_checkpoint("released-base", tmp_path)
    assert path == tmp_path / "_artifacts" / "smp_released" / "base.bin"
    assert digest == RELEASED["released-base"].sha256
    assert load_pruner_checkpoint(path).ndf == 8  # the shape check passes
    # the second use reads the cache: a broken URL no longer matters
    spec = dataclasses.replace(RELEASED["released-base"], url="file:///nonexistent/base.bin")
    monkeypatch.setitem(RELEASED, "released-base", spec)
    assert released_checkpoint("released-base", tmp_path) == (path, digest)
    assert [p.name for p in path.parent.iterdir()] == ["base.bin"]  # no temporary left


@needs_base
def test_a_corrupted_copy_is_refused(tmp_path):
    target = released_dir(tmp_path) / "base.bin"
    target.parent.mkdir(parents=True)
    data = bytearray(SHARED_BASE.read_bytes())
    data[-100] ^= 0xFF  # one flipped byte
    target.write_bytes(bytes(data))
    with pytest.raises(ReleasedPrunerError, match=r"sha256 [0-9a-f]{64} is not the pinned"):
        released_checkpoint("released-base", tmp_path)


@needs_base
def test_a_corrupted_download_is_not_published(tmp_path, monkeypatch, online):
    corrupt = tmp_path / "served.bin"
    corrupt.write_bytes(SHARED_BASE.read_bytes()[:-1])
    spec = dataclasses.replace(RELEASED["released-base"], url=corrupt.as_uri())
    monkeypatch.setitem(RELEASED, "released-base", spec)
    with pytest.raises(ReleasedPrunerError, match="is not the pinned"):
        released_checkpoint("released-base", tmp_path / "storage")
    folder = released_dir(tmp_path / "storage")
    assert not folder.exists() or list(folder.iterdir()) == []


def test_offline_fails_fast_naming_the_file_and_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def no_network(*args, **kwargs):
        raise AssertionError("offline: nothing may be fetched")

    target = tmp_path / "_artifacts" / "smp_released" / "base.bin"
    with pytest.raises(ReleasedPrunerError) as info:
        released_checkpoint("released-base", tmp_path, opener=no_network)
    message = str(info.value)
    assert RELEASED["released-base"].url in message and str(target) in message
    assert RELEASED["released-base"].sha256 in message and "switched off" in message


def test_unreachable_network_fails_with_the_same_hint(tmp_path, online):
    import urllib.error

    def unreachable(url, timeout):
        raise urllib.error.URLError("no route to host")

    with pytest.raises(ReleasedPrunerError, match=r"fetching .*base.bin failed .*put it at"):
        released_checkpoint("released-base", tmp_path, opener=unreachable)


def test_large_has_no_known_checksum_and_is_refused(tmp_path, online):
    assert RELEASED["released-large"].sha256 is None
    (released_dir(tmp_path)).mkdir(parents=True)
    (released_dir(tmp_path) / "large.bin").write_bytes(b"anything")
    with pytest.raises(ReleasedPrunerError, match="knows no checksum .*pruner=/path/to/large.bin"):
        released_checkpoint("released-large", tmp_path)


def test_config_values():
    base = {"task": "mrpc"}
    assert from_mapping(SmpConfig, base).pruner == "meta-train"
    assert from_mapping(SmpConfig, {**base, "pruner_path": "/a/base.bin"}).pruner == "/a/base.bin"
    cfg = from_mapping(SmpConfig, {**base, "pruner": "released"})
    assert cfg.released_pruner_name() == "released-base"
    large = from_mapping(SmpConfig, {**base, "pruner": "released", "model": "bert-large-uncased"})
    assert large.released_pruner_name() == "released-large"
    assert from_mapping(SmpConfig, {**base, "pruner": "/x.bin"}).released_pruner_name() is None
    with pytest.raises(ConfigError, match="`pruner` must be one of released-base, released-large"):
        from_mapping(SmpConfig, {**base, "pruner": "released-huge"})
    with pytest.raises(ConfigError, match="`pruner_path` must be left unset when `pruner`"):
        from_mapping(SmpConfig, {**base, "pruner": "released-base", "pruner_path": "/a.bin"})


def test_paper_profile_defaults_to_the_released_pruner():
    import search_spaces

    settings = search_spaces.get_space("smp_mrpc").settings("paper")
    cfg = from_mapping(SmpConfig, settings)
    assert cfg.pruner == "released" and cfg.released_pruner_name() == "released-base"
    assert search_spaces.get_space("smp_mrpc").settings("dev").get("pruner") is None


@needs_base
def test_a_trial_with_released_base(tmp_path, monkeypatch, online):
    from_shared(monkeypatch)
    config = {
        "task": "mrpc", "model": "tiny", "synthetic_data": True, "max_train_examples": 16,
        "max_eval_examples": 8, "max_seq_length": 32, "train_batch_size": 8,
        "eval_batch_size": 8, "max_steps": 2, "eval_every": 2, "measure_latency": False,
        "num_threads": 1, "storage_root": str(tmp_path / "storage"),
        "pruner": "released-base", "mask_exact_count": True,
    }
    rec = RecordingReporter()
    run(config, rec)
    assert rec.metrics[-1]["head_sparsity"] == 0.5
    # the same file given by path scores from the same artifact (keyed by its sha256)
    local = tmp_path / "copy.bin"
    shutil.copy(SHARED_BASE, local)
    before = sorted((tmp_path / "storage" / "_artifacts" / "smp_scores").iterdir())
    run({**config, "pruner": str(local)}, RecordingReporter())
    assert sorted((tmp_path / "storage" / "_artifacts" / "smp_scores").iterdir()) == before


def test_launch_preflight_refuses_offline_with_the_message(tmp_path, monkeypatch):
    from orchestrator.errors import UsageError
    from orchestrator.preflight import preflight_released_pruner

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    settings = {"pruner": "released", "model": "bert-base-uncased",
                "storage_root": str(tmp_path)}
    with pytest.raises(UsageError, match=r"download https://github.com/thunlp/SMP/raw/.*base.bin"):
        preflight_released_pruner(settings)
    preflight_released_pruner({**settings, "pruner": "meta-train"})  # nothing to fetch


@needs_base
def test_launch_preflight_fetches_once_for_every_trial(tmp_path, monkeypatch, online):
    from orchestrator.preflight import preflight_released_pruner

    from_shared(monkeypatch)
    preflight_released_pruner({"pruner": "released-base", "storage_root": str(tmp_path)})
    assert (released_dir(tmp_path) / "base.bin").is_file()


def test_released_module_is_torch_free():
    import subprocess
    import sys

    code = ("import sys, trainables.smp.released, orchestrator.launch\n"
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
