"""The ``smp`` trainable on the tiny model, through the Reporter interface (no Ray)."""

from __future__ import annotations

import threading

import pytest
import torch

import trainables.smp.artifacts as artifacts
from analysis import schema as S
from trainables.artifacts import ArtifactStore
from trainables.config import ConfigError
from trainables.config import from_mapping
from trainables.models import load_tokenizer
from trainables.reporting import RecordingReporter
from trainables.smp import AttentionMapsUnavailableError
from trainables.smp import HeadPrunerCNN
from trainables.smp import PrunerCheckpointError
from trainables.smp import PruneRatioError
from trainables.smp import SmpConfig
from trainables.smp import load_mask_json
from trainables.smp.trainable import MASK_FILE
from trainables.smp.trainable import run

LAYERS, HEADS = 4, 4  # the tiny BERT


@pytest.fixture
def config(tmp_path) -> dict:
    """A 4-step SMP trial on the tiny model with a 2-update pruner (a few seconds)."""
    return {
        "task": "sst2", "model": "tiny", "synthetic_data": True, "max_train_examples": 32,
        "max_eval_examples": 16, "max_seq_length": 32, "train_batch_size": 8,
        "eval_batch_size": 16, "max_steps": 4, "eval_every": 2, "measure_latency": False,
        "num_threads": 1, "storage_root": str(tmp_path / "storage"),
        "meta_tasks": "sst2,mrpc", "meta_updates": 2, "meta_batch_size": 4,
        "meta_accumulation": 1, "meta_max_examples_per_task": 8, "mask_exact_count": True,
    }


@pytest.fixture
def builds(monkeypatch) -> dict:
    """Counts meta-training runs and scoring passes."""
    counts = {"meta_train": 0, "scores": 0}

    def counting(name, original):
        def wrapper(*args, **kwargs):
            counts[name] += 1
            return original(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(artifacts, "meta_train", counting("meta_train", artifacts.meta_train))
    monkeypatch.setattr(artifacts, "chunked_scores",
                        counting("scores", artifacts.chunked_scores))
    return counts


def expected_weight_sparsity(head_sparsity: float) -> float:
    from trainables.models import tiny_config
    from trainables.param_layout import layout_from_config

    layout = layout_from_config(tiny_config(2, 100))
    removed = round(head_sparsity * LAYERS * HEADS) * layout.params_per_head
    return removed / layout.total


def test_reports_schema_metrics_every_eval(config):
    rec = RecordingReporter()
    run(dict(config, measure_latency=True), rec)
    assert [m["step"] for m in rec.metrics] == [2, 4]
    assert [m["is_final"] for m in rec.metrics] == [False, True]
    last = rec.metrics[-1]
    for column in (S.SCORE, S.ACCURACY, S.EVAL_LOSS, S.WEIGHT_SPARSITY, S.HEAD_SPARSITY,
                   S.PARAMS_TOTAL, S.PARAMS_REMAINING, S.TRAIN_TIME_S, S.EXAMPLES_PER_S,
                   S.LATENCY_MS, S.DENSE_LATENCY_MS, S.EPOCH, S.DEVICE):
        assert column in last, column
    assert last["method"] == "smp" and last["head_sparsity"] == 0.5
    assert last["weight_sparsity"] == pytest.approx(expected_weight_sparsity(0.5))
    assert last["params_remaining"] == round(last["params_total"] * (1 - last["weight_sparsity"]))
    assert last["latency_ms"] > 0 and last["dense_latency_ms"] > 0
    assert last["speedup"] == pytest.approx(last["dense_latency_ms"] / last["latency_ms"])
    assert "dense_latency_ms" not in rec.metrics[0]  # measured once, at the end
    S.rows_to_table([{k: v for k, v in m.items() if k in S.COLUMNS} for m in rec.metrics])


def test_resume_from_first_checkpoint_continues_with_the_same_result(config, monkeypatch):
    full = RecordingReporter()
    run(config, full)
    first = full.checkpoints[0]
    assert load_mask_json(first / MASK_FILE).sum(dim=1).tolist() == [2] * LAYERS

    def no_scoring(*args, **kwargs):
        raise AssertionError("a resumed trial reads its mask from the checkpoint")

    monkeypatch.setattr(artifacts, "head_scores", no_scoring)
    resumed = RecordingReporter()
    run(config, resumed, resume_from=first)
    assert [m["step"] for m in resumed.metrics] == [4]
    for key in ("eval_loss", "score", "weight_sparsity", "params_remaining"):
        assert resumed.metrics[-1][key] == pytest.approx(full.metrics[-1][key], abs=1e-6), key


def test_pruner_and_scores_are_built_once_for_two_runs(config, builds):
    first, second, again = RecordingReporter(), RecordingReporter(), RecordingReporter()
    run(dict(config, prune_ratio=0.5), first)
    run(dict(config, prune_ratio=0.75, allocation="global"), second)
    run(dict(config, prune_ratio=0.5), again)
    assert builds == {"meta_train": 1, "scores": 1}
    # building the artifacts or reading them leaves the fine-tune's random stream alike
    assert again.metrics[-1]["eval_loss"] == first.metrics[-1]["eval_loss"]
    assert first.metrics[-1]["head_sparsity"] == 0.5
    assert second.metrics[-1]["head_sparsity"] == 0.75
    assert second.metrics[-1]["weight_sparsity"] == pytest.approx(
        expected_weight_sparsity(0.75))
    kinds = sorted(info.kind for info in ArtifactStore.under_storage(config["storage_root"])
                   .list() if info.kind.startswith("smp"))
    assert kinds == ["smp_pruner", "smp_scores"]


def test_two_trials_asking_at_once_train_the_pruner_once(config, builds):
    cfg = from_mapping(SmpConfig, config)
    store = ArtifactStore.under_storage(cfg.storage_root, poll_s=0.05)
    tokenizer = load_tokenizer("tiny")
    results, errors = [], []

    def ask() -> None:
        try:
            results.append(artifacts.pruner_artifact(cfg, tokenizer, store, torch.device("cpu")))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not errors and len(results) == 2 and results[0] == results[1]
    assert builds["meta_train"] == 1


def test_a_released_checkpoint_replaces_meta_training(config, builds, tmp_path):
    cnn = HeadPrunerCNN()
    cnn.reset_parameters(torch.Generator().manual_seed(3))
    path = tmp_path / "base.bin"  # the released files are legacy (non-zip) torch pickles
    torch.save(cnn.state_dict(), path, _use_new_zipfile_serialization=False)
    rec = RecordingReporter()
    run(dict(config, pruner_path=str(path)), rec)
    assert builds == {"meta_train": 0, "scores": 1}
    assert rec.metrics[-1]["head_sparsity"] == 0.5


@pytest.mark.parametrize("ratio", [1.0, -0.1])
def test_prune_ratio_outside_range_is_refused(config, ratio):
    with pytest.raises(ConfigError, match=r"`prune_ratio` must be in \[0, 1\)"):
        run(dict(config, prune_ratio=ratio), RecordingReporter())


def test_global_ratio_that_empties_a_layer_fails_before_meta_training(config, builds):
    with pytest.raises(PruneRatioError, match="keeps >= 1 head in each of 4 layers"):
        run(dict(config, prune_ratio=0.9, allocation="global"), RecordingReporter())
    assert builds == {"meta_train": 0, "scores": 0}


def test_tied_scores_that_empty_a_layer_name_the_fix(config, tmp_path):
    cnn = HeadPrunerCNN()
    torch.nn.init.zeros_(cnn.main[-2].weight)  # every score is exactly 2 * sigmoid(0) = 1
    path = tmp_path / "flat.bin"
    torch.save(cnn.state_dict(), path)
    with pytest.raises(PruneRatioError, match="no head .* exact_count=True"):
        run(dict(config, pruner_path=str(path), mask_exact_count=False), RecordingReporter())


def test_checkpoint_of_the_wrong_width(config, tmp_path):
    path = tmp_path / "ndf4.bin"
    torch.save(HeadPrunerCNN(ndf=4).state_dict(), path)
    with pytest.raises(PrunerCheckpointError, match=r"looks like ndf=4, the CNN has ndf=8"):
        run(dict(config, pruner_path=str(path)), RecordingReporter())


def test_missing_checkpoint(config, tmp_path):
    with pytest.raises(PrunerCheckpointError, match="no pruner checkpoint .*absolute path"):
        run(dict(config, pruner_path=str(tmp_path / "nope.bin")), RecordingReporter())


def test_model_whose_attention_returns_no_maps(config, monkeypatch):
    original = artifacts.load_classifier

    def sdpa_only(name, num_labels, *, attn_implementation=None, seed=0):
        return original(name, num_labels, attn_implementation="sdpa", seed=seed)

    monkeypatch.setattr(artifacts, "load_classifier", sdpa_only)
    with pytest.raises(AttentionMapsUnavailableError, match="attn_implementation='eager'"):
        run(config, RecordingReporter())


def test_unknown_key_is_refused(config):
    with pytest.raises(ConfigError, match="did you mean 'prune_ratio'"):
        run(dict(config, prune_ration=0.3), RecordingReporter())


def test_a_pruner_build_that_died_resumes_from_its_work_folder(config, monkeypatch):
    import json

    cfg = from_mapping(SmpConfig, config)
    store = ArtifactStore.under_storage(cfg.storage_root)
    tokenizer, device = load_tokenizer("tiny"), torch.device("cpu")
    real = artifacts.meta_train

    def dies_after_last_checkpoint(plm, tasks, directory, config, *, callback=None):
        def stop(step, loss, rate):
            if step == config.updates:  # the checkpoint of this step is already written
                raise KeyboardInterrupt
        return real(plm, tasks, directory, config, callback=stop)

    monkeypatch.setattr(artifacts, "meta_train", dies_after_last_checkpoint)
    with pytest.raises(KeyboardInterrupt):
        artifacts.pruner_artifact(cfg, tokenizer, store, device)
    assert not [info for info in store.list() if info.kind == "smp_pruner"]  # nothing published
    monkeypatch.setattr(artifacts, "meta_train", real)
    folder, key = artifacts.pruner_artifact(cfg, tokenizer, store, device)
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["resumed_from"] == 2 and meta["updates"] == 2 and meta["losses"] == []
    assert not (folder.parent / f".work-{key}").exists()  # cleaned up once published
