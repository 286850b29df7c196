"""Shared teacher outputs and PrC bank (trainables.cap.teacher_outputs): exact, shared, safe."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from cap_data import NUM_EXAMPLES
from cap_data import batches_of
from cap_trial import tiny_cap_config

from trainables.artifacts import ArtifactStore, artifact_key
from trainables.cap import encode_batch
from trainables.cap.config import CapConfig
from trainables.cap.teacher_outputs import (
    PRETRAINED_BANK_KIND,
    TEACHER_OUTPUTS_KIND,
    CachedTeacher,
    compute_teacher_outputs,
    pretrained_bank_inputs,
    teacher_outputs_inputs,
)
from trainables.cap.trainable import setup
from trainables.config import from_mapping
from trainables.models import load_classifier
from trainables.prepare import prepare
from trainables.reporting import RecordingReporter
from trainables.runtime import autocast

CPU = torch.device("cpu")
BF16_EPS = 2.0 ** -8  # bf16 keeps 8 significant bits: relative rounding <= 2^-8


def shuffled_batches(dataset, size=5):
    order = torch.randperm(NUM_EXAMPLES, generator=torch.Generator().manual_seed(7))
    return batches_of(dataset, size, order=order)


def inputs(batch):
    return {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}


@pytest.mark.parametrize("mode", ["cls", "mean-pooling"])
def test_fp32_cached_logits_and_rows_equal_a_fresh_forward_on_the_same_batch(
        tiny_model, dataset, mode):
    cached = compute_teacher_outputs(tiny_model, dataset, mode, torch.float32, CPU, False)
    logits = torch.from_numpy(cached["logits"])
    vectors = torch.from_numpy(cached["vectors"])
    worst = 0.0
    with torch.no_grad():
        for batch in shuffled_batches(dataset):  # other rows, order and shape than the pass
            fresh = tiny_model(**inputs(batch)).logits
            worst = max(worst, (logits[batch["idx"]] - fresh).abs().max().item())
            assert torch.allclose(logits[batch["idx"]], fresh, rtol=0, atol=1e-5)
            assert torch.allclose(vectors[batch["idx"]], encode_batch(tiny_model, batch, mode),
                                  rtol=0, atol=1e-5)
    assert worst < 1e-5  # float32 rounding of another batch shape, no more
    assert np.array_equal(cached["labels"], dataset["labels"].numpy())


def test_bf16_cached_logits_are_within_bf16_rounding_of_a_fresh_forward(tiny_model, dataset,
                                                                        monkeypatch):
    # bf16 on purpose, also on a CPU without native bf16 (where trials fall back to fp32)
    monkeypatch.setenv("PRUNESWEEP_CPU_BF16", "force")
    cached = torch.from_numpy(
        compute_teacher_outputs(tiny_model, dataset, "cls", torch.float32, CPU, True)["logits"])
    fp32 = torch.from_numpy(
        compute_teacher_outputs(tiny_model, dataset, "cls", torch.float32, CPU, False)["logits"])
    assert not torch.equal(cached, fp32)  # bf16 did run
    with torch.no_grad(), autocast(CPU, True):
        for batch in shuffled_batches(dataset):
            fresh = tiny_model(**inputs(batch)).logits.float()
            scale = fresh.abs().max().item()
            assert (cached[batch["idx"]] - fresh).abs().max().item() <= 4 * BF16_EPS * scale


def run_trial(storage, monkeypatch, **overrides):
    """A tiny fp32 CAP trial: its trained parameters, reported rows and per-step losses."""
    from trainables.cap.trainable import train_cap
    from trainables.cap.training import CapTraining

    losses = []
    original = CapTraining.loss

    def recording(self, model, batch, step):
        loss = original(self, model, batch, step)
        losses.append(loss.item())
        return loss

    monkeypatch.setattr(CapTraining, "loss", recording)
    rec = RecordingReporter()
    cfg = from_mapping(CapConfig, tiny_cap_config(storage, **overrides))
    model = train_cap(cfg, rec)
    monkeypatch.setattr(CapTraining, "loss", original)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}, rec.metrics, losses


def test_training_trajectory_is_the_same_with_the_caches_on_and_off(tmp_path, monkeypatch):
    # One storage, so both runs use the same teacher; only the caches differ.
    on, rows_on, loss_on = run_trial(tmp_path, monkeypatch, max_steps=6, eval_every=3)
    off, rows_off, loss_off = run_trial(tmp_path, monkeypatch, max_steps=6, eval_every=3,
                                        teacher_cache=False, prc_cache=False)
    assert len(loss_on) == len(loss_off) == 6
    assert loss_on == pytest.approx(loss_off, rel=1e-5, abs=1e-6)
    assert sorted(on) == sorted(off)
    # Float32 rounding of the KD targets and bank rows (another batch shape, ~1e-7) is all
    # that differs between the paths: the weights (lr 2e-5) stay within 1e-6.
    scores = [name for name in on if name.endswith("mask_scores")]
    for name in on:
        if name not in scores:
            assert torch.allclose(on[name], off[name], rtol=1e-5, atol=1e-6), name
    # The scores move at the tiny config's rate of 1.0 under AdamW, and a score within rounding
    # of the top-k threshold can flip its keep/prune decision. Where one flips, the scores fed
    # by that input column follow another path: on AVX-512 kernels (Zen 4) a flip at step 4
    # moves 166 of 25,856 scores by up to 0.05 (two input columns of layer 3's attention
    # output); on AVX2 kernels (Zen 3, or MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2
    # ATEN_CPU_CAPABILITY=avx2) none flips and every score agrees within 1e-4. Cached rows
    # that were wrong would change the losses above and move most scores.
    total = sum(on[name].numel() for name in scores)
    moved = sum(int((on[name] - off[name]).abs().gt(1e-4).sum()) for name in scores)
    assert moved <= 0.02 * total, f"{moved} of {total} mask scores moved by more than 1e-4"
    for a, b in zip(rows_on, rows_off, strict=True):
        assert a["step"] == b["step"]
        assert a["score"] == pytest.approx(b["score"], abs=1e-6)
        assert a["weight_sparsity"] == pytest.approx(b["weight_sparsity"], abs=1e-9)


def test_a_trial_reads_the_artifacts_built_by_another_without_encoding(tmp_path):
    cfg = from_mapping(CapConfig, tiny_cap_config(tmp_path))
    first = setup(cfg)
    assert isinstance(first.teacher, CachedTeacher) and first.teacher.built
    second = setup(cfg)
    assert isinstance(second.teacher, CachedTeacher) and not second.teacher.built
    assert second.banks.encode_seconds == []  # nothing encoded: memory maps only
    for bank in (second.banks.pretrained, second.banks.finetuned):
        assert bank.shared
    assert torch.equal(first.teacher.logits, second.teacher.logits)
    assert torch.equal(first.banks.pretrained.vectors, second.banks.pretrained.vectors)
    store = ArtifactStore.under_storage(tmp_path)
    kinds = sorted(info.kind for info in store.list())
    assert kinds.count(TEACHER_OUTPUTS_KIND) == 1 and kinds.count(PRETRAINED_BANK_KIND) == 1


def test_shared_rows_equal_the_per_trial_encoding(tmp_path):
    cfg = from_mapping(CapConfig, tiny_cap_config(tmp_path))
    shared = setup(cfg)
    local = setup(from_mapping(CapConfig, tiny_cap_config(
        tmp_path, teacher_cache=False, prc_cache=False)))
    assert not local.banks.finetuned.shared and len(local.banks.encode_seconds) == 2
    for a, b in ((shared.banks.finetuned, local.banks.finetuned),
                 (shared.banks.pretrained, local.banks.pretrained)):
        assert torch.allclose(a.vectors, b.vectors, rtol=0, atol=1e-5)
        assert torch.equal(a.labels, b.labels)


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete"])
def test_a_damaged_artifact_file_is_rebuilt_not_read(tmp_path, damage):
    cfg = from_mapping(CapConfig, tiny_cap_config(tmp_path))
    first = setup(cfg)
    logits = first.teacher.logits.clone()
    store = ArtifactStore.under_storage(tmp_path)
    folder = next(i.path for i in store.list() if i.kind == TEACHER_OUTPUTS_KIND)
    target = folder / "logits.npy"
    blob = bytearray(target.read_bytes())
    if damage == "truncate":
        target.write_bytes(blob[: len(blob) // 2])
    elif damage == "flip":
        blob[-1] ^= 0xFF  # same size, other value: only the checksum sees it
        target.write_bytes(bytes(blob))
    else:
        target.unlink()
    again = setup(cfg)
    assert again.teacher.built  # rebuilt under the lock
    assert torch.equal(again.teacher.logits, logits)
    assert (folder / "logits.npy").stat().st_size == len(blob)


def test_keys_differ_when_the_teacher_representation_or_student_differs(tmp_path):
    cfg = from_mapping(CapConfig, tiny_cap_config(tmp_path))
    prep = prepare(cfg)
    teacher_a = {"artifact": "aaaa", "created": 1.0}
    base = artifact_key(teacher_outputs_inputs(cfg, prep, teacher_a))
    assert base == artifact_key(teacher_outputs_inputs(cfg, prep, dict(teacher_a)))
    assert base != artifact_key(teacher_outputs_inputs(cfg, prep, {**teacher_a, "created": 2.0}))
    assert base != artifact_key(teacher_outputs_inputs(cfg, prep, {"path": "/t", "files": {}}))
    for change in ({"alignrep": "mean-pooling"}, {"bank_dtype": "float16"}, {"bf16": True}):
        other = from_mapping(CapConfig, tiny_cap_config(tmp_path, **change))
        assert base != artifact_key(teacher_outputs_inputs(other, prep, teacher_a)), change
    longer = from_mapping(CapConfig, tiny_cap_config(tmp_path, max_seq_length=24))
    assert base != artifact_key(teacher_outputs_inputs(longer, prepare(longer), teacher_a))
    student = load_classifier("tiny", 2, seed=0)
    prc = artifact_key(pretrained_bank_inputs(cfg, prep, student, 1.0))
    assert prc == artifact_key(pretrained_bank_inputs(cfg, prep, student, 1.0))
    assert prc != artifact_key(pretrained_bank_inputs(cfg, prep, student, 0.5))
    other_student = load_classifier("tiny", 2, seed=1)  # the tiny BERT is randomly initialised
    assert prc != artifact_key(pretrained_bank_inputs(cfg, prep, other_student, 1.0))
    mean = from_mapping(CapConfig, tiny_cap_config(tmp_path, alignrep="mean-pooling"))
    assert prc != artifact_key(pretrained_bank_inputs(mean, prep, student, 1.0))


def test_a_different_teacher_path_gets_its_own_outputs(tmp_path):
    teachers = []
    for seed in (0, 1):
        folder = tmp_path / f"teacher{seed}"
        load_classifier("tiny", 2, seed=seed).save_pretrained(folder)
        teachers.append(folder)
    runs = [setup(from_mapping(CapConfig, tiny_cap_config(
        tmp_path / "storage", teacher_path=str(t)))) for t in teachers]
    assert all(r.teacher.built for r in runs)
    assert not torch.equal(runs[0].teacher.logits, runs[1].teacher.logits)


def test_cached_logits_need_the_row_index(tiny_model, dataset):
    cached = compute_teacher_outputs(tiny_model, dataset, "cls", torch.float32, CPU, False)
    teacher = CachedTeacher(torch.from_numpy(cached["logits"]), None, 0.0, True)
    batch = batches_of(dataset, 4)[0]
    assert teacher.logits_for(batch, CPU).shape == (4, 2)
    batch.pop("idx")
    with pytest.raises(KeyError, match="idx"):
        teacher.logits_for(batch, CPU)
