"""The ``cap`` trainable on the tiny BERT: reports, schedule, baking, resume, teacher artifact."""

from __future__ import annotations

import pytest
import torch
from cap_trial import tiny_cap_config

from trainables import config_class
from trainables import run_function
from trainables.artifacts import ArtifactStore
from trainables.cap import count_remaining
from trainables.cap import weight_sparsity
from trainables.cap.config import CapConfig
from trainables.cap.trainable import run
from trainables.cap.trainable import setup
from facts.checkpoints import EXPORT_DIR as PRUNED_DIR
from trainables.config import from_mapping
from trainables.reporting import RecordingReporter

REQUIRED = ("score", "weight_sparsity", "head_sparsity", "params_total", "params_remaining",
            "step", "epoch", "is_final", "method", "sparsity_settled")


def _run(config, resume_from=None) -> RecordingReporter:
    rec = RecordingReporter()
    run(config, rec, resume_from=resume_from)
    return rec


def test_registered_and_config_class():
    assert config_class("cap") is CapConfig
    assert run_function("cap") is run


@pytest.mark.parametrize(("method", "contrastive", "name"), [
    ("topk", True, "cap-m"), ("soft", True, "cap-soft"),
    ("topk", False, "movement"), ("soft", False, "soft-movement")])
def test_reports_every_evaluation_with_method_and_sparsity(tmp_path, method, contrastive, name):
    overrides = {"pruning_method": method, "use_contrastive": contrastive}
    if method == "topk":
        overrides["final_threshold"] = 0.2
    else:
        overrides["final_lambda"] = 2000.0
    rec = _run(tiny_cap_config(tmp_path, **overrides))
    assert [m["step"] for m in rec.metrics] == [6, 12]
    for metrics in rec.metrics:
        assert all(key in metrics for key in REQUIRED)
        assert metrics["method"] == name and 0.0 <= metrics["weight_sparsity"] < 1.0
    final = rec.metrics[-1]
    assert final["is_final"] and final["sparsity_settled"]
    assert not rec.metrics[0]["sparsity_settled"]  # step 6 <= T - fw*W = 9: still moving
    assert final["params_remaining"] < final["params_total"]
    if method == "topk":  # keep 20% of every matrix; biases and LayerNorms always count
        assert 0.6 < final["weight_sparsity"] < 0.8
    assert (final["bank_bytes"] > 0) == contrastive


def test_no_teacher_without_kd_and_contrastive(tmp_path):
    config = tiny_cap_config(tmp_path, use_contrastive=False, distill_loss_weight=0.0)
    rec = _run(config)
    assert rec.metrics[-1]["method"] == "movement"
    assert [i.kind for i in ArtifactStore.under_storage(tmp_path).list()] == ["tokenized"]


def test_final_checkpoint_holds_a_baked_stock_bert_with_the_same_counts(tmp_path):
    from transformers import BertForSequenceClassification

    rec = _run(tiny_cap_config(tmp_path, final_threshold=0.1))
    final = rec.metrics[-1]
    folder = rec.checkpoints[-1] / PRUNED_DIR
    assert (folder / "model.safetensors").is_file()
    baked = BertForSequenceClassification.from_pretrained(folder)
    assert not any("mask_scores" in name for name, _ in baked.named_parameters())
    remaining, total = count_remaining(baked)
    assert (remaining, total) == (final["params_remaining"], final["params_total"])
    assert weight_sparsity(baked) == pytest.approx(final["weight_sparsity"])
    assert not (rec.checkpoints[0] / PRUNED_DIR).exists()  # only the final one carries it


def test_evaluation_uses_the_final_threshold_and_restores_the_schedule(tmp_path):
    from trainables.data import batches

    cfg = from_mapping(CapConfig, tiny_cap_config(tmp_path))
    training = setup(cfg)
    batch = next(iter(batches(training.prep.data.train, 8, shuffle=False)))
    training.loss(training.model, batch, 3)  # the step sets its threshold first
    scheduled = training.state.threshold
    assert scheduled == training.threshold(3)
    assert 0.03 < scheduled < 1.0  # inside the cubic
    with training.evaluating():
        assert training.state.threshold == cfg.final_threshold
    assert training.state.threshold == scheduled


def test_param_groups_scores_apart_and_no_weight_decay(tmp_path):
    from trainables.cap.training import param_groups

    cfg = from_mapping(CapConfig, tiny_cap_config(tmp_path))
    training = setup(cfg)
    groups = param_groups(training.model, cfg)
    assert [g["lr"] for g in groups] == [1.0, cfg.learning_rate, cfg.learning_rate]
    assert all(g["weight_decay"] == 0.0 for g in groups)
    scores = {id(p) for p in groups[0]["params"]}
    named = dict(training.model.named_parameters())
    assert scores == {id(p) for n, p in named.items() if n.endswith("mask_scores")}
    assert not any(p.requires_grad for n, p in named.items() if "embeddings" in n)


def test_resume_continues_at_the_saved_step_with_the_same_result(tmp_path):
    # 4 steps per epoch: the first checkpoint (step 6) is mid-epoch 1, after one snapshot.
    config = tiny_cap_config(tmp_path, pruning_method="soft", final_lambda=500.0)
    full = _run(config)
    resumed = _run(config, resume_from=full.checkpoints[0])
    assert [m["step"] for m in resumed.metrics] == [12]
    first, second = full.metrics[-1], resumed.metrics[-1]
    for key in ("score", "weight_sparsity", "head_sparsity", "params_remaining"):
        assert second[key] == first[key], key
    assert second["eval_loss"] == pytest.approx(first["eval_loss"], rel=1e-6, abs=1e-7)


def test_teacher_artifact_is_built_once_for_two_runs(tmp_path, capsys):
    _run(tiny_cap_config(tmp_path, max_steps=6, seed=1))
    _run(tiny_cap_config(tmp_path, max_steps=6, seed=2, pruning_method="soft"))
    kinds = [info.kind for info in ArtifactStore.under_storage(tmp_path).list()]
    assert kinds.count("teacher") == 1
    assert capsys.readouterr().out.count("building the teacher") == 1


def test_teacher_settings_make_another_teacher(tmp_path):
    _run(tiny_cap_config(tmp_path, max_steps=6))
    _run(tiny_cap_config(tmp_path, max_steps=6, teacher_learning_rate=1e-4))
    kinds = [info.kind for info in ArtifactStore.under_storage(tmp_path).list()]
    assert kinds.count("teacher") == 2


def test_teacher_path_is_used_instead_of_the_artifact(tmp_path):
    store = ArtifactStore.under_storage(tmp_path / "a")
    _run(tiny_cap_config(tmp_path / "a", max_steps=6))
    (teacher,) = [i.path for i in store.list() if i.kind == "teacher"]
    _run(tiny_cap_config(tmp_path / "b", max_steps=6, teacher_path=str(teacher)))
    kinds = [i.kind for i in ArtifactStore.under_storage(tmp_path / "b").list()]
    assert "teacher" not in kinds


def test_deterministic_given_the_seed(tmp_path):
    config = tiny_cap_config(tmp_path, max_steps=6)
    a, b = _run(config).metrics[-1], _run(config).metrics[-1]
    assert a["eval_loss"] == b["eval_loss"] and a["weight_sparsity"] == b["weight_sparsity"]
    assert torch.get_num_threads() == 1


def test_regression_task_and_bank_options(tmp_path):
    # STS-B: MSE instead of CE, no supervised contrastive term (methods.md 6)
    half = _run(tiny_cap_config(tmp_path, task="stsb", max_steps=6, bank_dtype="float16",
                                snapshot_eval_mode=True, alignrep="mean-pooling")).metrics[-1]
    full = _run(tiny_cap_config(tmp_path, task="stsb", max_steps=6)).metrics[-1]
    assert half["method"] == "cap-m" and "pearson" in half and "spearman" in half
    labels = 3 * 32 * 4  # three float32 label columns of 32 rows
    assert half["bank_bytes"] - labels == (full["bank_bytes"] - labels) // 2
