"""``python -m trainables.sparse convert``: the sparse folder, its plan, and bad input."""

from __future__ import annotations

import json

import pytest
import torch
from sparse_models import baked_tiny

from trainables.sparse import PLAN_FILE, CsrLinear, load_sparse, read_plan
from trainables.sparse.__main__ import main


@pytest.fixture
def model_dir(tmp_path):
    folder = tmp_path / "pruned_model"
    baked_tiny(keep=0.03).save_pretrained(folder)
    return folder


def test_convert_writes_a_loadable_sparse_folder(model_dir, tmp_path, tokens, capsys):
    out = tmp_path / "served"
    code = main(["convert", str(model_dir), "--out", str(out), "--batch-size", "4",
                 "--length", "16", "--storage", str(tmp_path / "storage")])
    assert code == 0
    printed = capsys.readouterr().out
    assert "sparse model written to" in printed and "x (batch 4, length 16" in printed
    plan = json.loads((out / PLAN_FILE).read_text())
    assert plan["speed"]["speedup"] == pytest.approx(
        plan["speed"]["dense_latency_ms"] / plan["speed"]["latency_ms"])
    assert plan["speed"]["max_abs_diff"] < 1e-4 and (out / "config.json").is_file()
    assert list((tmp_path / "storage" / "_artifacts" / "sparse_timings").glob("*.json"))
    model = load_sparse(out)
    sparse_names = read_plan(out).sparse_layers()
    assert all(isinstance(model.get_submodule(n), CsrLinear) for n in sparse_names)
    dense = type(model).from_pretrained(model_dir).eval()
    with torch.no_grad():
        torch.testing.assert_close(model(**tokens).logits, dense(**tokens).logits,
                                   atol=1e-5, rtol=1e-4)


def test_remeasured_load_is_tuned_on_the_whole_model_at_the_plans_shape(
        model_dir, tmp_path, tokens, monkeypatch):
    out = tmp_path / "served"
    assert main(["convert", str(model_dir), "--out", str(out), "--batch-size", "3",
                 "--length", "8", "--no-cache"]) == 0
    import trainables.sparse.whole_model as whole_model

    shapes = []
    real = whole_model.tune_whole_model
    monkeypatch.setattr(whole_model, "tune_whole_model", lambda model, originals, plan, inputs,
                        **kw: (shapes.append(tuple(inputs["input_ids"].shape)),
                               real(model, originals, plan, inputs, **kw))[1])
    model = load_sparse(out, remeasure=True)
    assert shapes == [(3, 8)]
    dense = type(model).from_pretrained(model_dir).eval()
    with torch.no_grad():
        torch.testing.assert_close(model(**tokens).logits, dense(**tokens).logits,
                                   atol=1e-5, rtol=1e-4)


def test_bad_input_is_one_line_and_exit_2(model_dir, tmp_path, capsys):
    assert main(["convert", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "must be a model folder with config.json" in capsys.readouterr().err
    (tmp_path / "taken").mkdir()
    assert main(["convert", str(model_dir), "--out", str(tmp_path / "taken")]) == 2
    assert "must not exist" in capsys.readouterr().err
    assert main(["convert", str(model_dir), "--out", str(tmp_path / "o"), "--length", "0"]) == 2
    assert "--length must be >= 1" in capsys.readouterr().err
    assert main(["convert", str(model_dir), "--out", str(tmp_path / "o"),
                 "--length", "999"]) == 2
    assert "<= the model's 160 positions" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_load_sparse_refuses_changed_weights(model_dir, tmp_path):
    out = tmp_path / "served"
    assert main(["convert", str(model_dir), "--out", str(out), "--batch-size", "2",
                 "--length", "8", "--no-cache"]) == 0
    plan = json.loads((out / PLAN_FILE).read_text())
    name = "bert.encoder.layer.0.attention.self.query"  # marked sparse whatever timing said
    plan["layers"][name].update(kernel="csr_addmm", density=plan["layers"][name]["density"] + 0.1)
    (out / PLAN_FILE).write_text(json.dumps(plan))
    with pytest.raises(ValueError, match="differs from the plan"):
        load_sparse(out)


def test_a_model_slower_sparse_than_dense_is_served_dense(model_dir, tmp_path, monkeypatch):
    import trainables.latency

    monkeypatch.setattr(trainables.latency, "paired_latency_ms", lambda *a, **k: {
        "latency_ms": 2.0, "dense_latency_ms": 1.0, "speedup": 0.5})
    import trainables.sparse.convert as convert

    real = convert.sparsify
    monkeypatch.setattr(convert, "sparsify", lambda model, tokens, **kwargs: real(
        model, tokens, **kwargs, min_gain=0.0, max_density=1.0))  # every layer wins alone
    import trainables.sparse.whole_model as whole_model

    # ... and the whole-model tuning believes it too; only the final paired timing disagrees
    monkeypatch.setattr(whole_model, "_ratio", lambda swapper, config, *a: (
        swapper.apply(config), 0.5)[1])
    out = tmp_path / "served"
    assert main(["convert", str(model_dir), "--out", str(out), "--batch-size", "2",
                 "--length", "8", "--no-cache"]) == 0
    plan = read_plan(out)
    assert plan.sparse_layers() == [] and plan.speed["kept_dense"] is True
    assert "kept dense" in plan.layers["bert.encoder.layer.0.attention.self.query"]["reason"]
