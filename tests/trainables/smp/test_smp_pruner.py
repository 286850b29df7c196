"""The pruner CNN and its checkpoint loader (methods.md 1.2)."""

from __future__ import annotations

import collections

import pytest
import torch
from safetensors.torch import save_file

from trainables.smp import HeadPrunerCNN
from trainables.smp import PrunerCheckpointError
from trainables.smp import load_pruner_checkpoint


def test_output_shape_and_range():
    cnn = HeadPrunerCNN(ndf=8).eval()
    out = cnn(torch.rand(5, 1, 128, 128))
    assert out.shape == (5, 2)
    assert ((out > 0) & (out < 2)).all()
    assert cnn(torch.rand(1, 1, 128, 128)).shape == (1, 2)  # the original's squeeze broke N=1


def test_train_mode_scores_vary_and_stay_in_range():
    cnn = HeadPrunerCNN(ndf=4).train()
    out = cnn(torch.rand(8, 1, 128, 128) / 64)
    assert ((out > 0) & (out < 2)).all() and out.std() > 0


def test_rejects_other_map_sizes():
    with pytest.raises(ValueError, match="128"):
        HeadPrunerCNN()(torch.rand(2, 1, 64, 64))


def test_state_dict_layout_matches_released_checkpoints():
    state = HeadPrunerCNN(ndf=8).state_dict()
    weights = [k for k in state if k.endswith(".weight")]
    assert weights[0] == "main.0.weight" and weights[-1] == "main.14.weight"
    assert state["main.0.weight"].shape == (8, 1, 4, 4)
    assert state["main.14.weight"].shape == (2, 128, 4, 4)
    # 179,268 stored elements incl. BN buffers, as counted in base.bin (methods.md 1.2)
    assert sum(v.numel() for v in state.values()) == 179_268


def test_init_follows_the_original():
    cnn = HeadPrunerCNN(ndf=8)
    conv = cnn.main[11].weight
    assert abs(conv.mean().item()) < 2e-3 and abs(conv.std().item() - 0.01) < 1e-3
    bn = cnn.main[12]
    assert abs(bn.weight.mean().item() - 1) < 5e-3 and bn.bias.abs().max() == 0


def _ordered(cnn: HeadPrunerCNN) -> collections.OrderedDict:
    return collections.OrderedDict(cnn.state_dict())


@pytest.mark.parametrize("zipfile", [True, False], ids=["zip", "legacy"])
def test_load_released_layout(tmp_path, zipfile):
    source = HeadPrunerCNN(ndf=8)
    path = tmp_path / "base.bin"
    torch.save(_ordered(source), path, _use_new_zipfile_serialization=zipfile)
    loaded = load_pruner_checkpoint(path)
    assert not loaded.training
    for key, value in source.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)


@pytest.mark.parametrize("wrap", ["state_dict", "module", "sequential", "wrapper"])
def test_load_wrapped_layouts(tmp_path, wrap):
    source = HeadPrunerCNN(ndf=4)
    state = source.state_dict()
    if wrap == "state_dict":
        blob = {"state_dict": state, "step": 3}
    elif wrap == "module":
        blob = {f"module.{k}": v for k, v in state.items()}
    elif wrap == "sequential":  # SMP:train_all.py saved model.main.state_dict() style
        blob = source.main.state_dict()
    else:  # the whole training wrapper: CNN under main.main.*, PLM weights beside it
        blob = {f"main.{k}": v for k, v in state.items()} | {"plm.w": torch.zeros(2)}
    torch.save(blob, tmp_path / "ckpt.bin")
    loaded = load_pruner_checkpoint(tmp_path / "ckpt.bin", ndf=4)
    assert torch.equal(loaded.main[0].weight, source.main[0].weight)


def test_load_safetensors(tmp_path):
    source = HeadPrunerCNN(ndf=4)
    save_file(source.state_dict(), str(tmp_path / "pruner.safetensors"))
    loaded = load_pruner_checkpoint(tmp_path / "pruner.safetensors", ndf=4)
    assert torch.equal(loaded.main[14].weight, source.main[14].weight)


def test_wrong_width_names_shapes(tmp_path):
    torch.save(HeadPrunerCNN(ndf=4).state_dict(), tmp_path / "small.bin")
    with pytest.raises(PrunerCheckpointError) as info:
        load_pruner_checkpoint(tmp_path / "small.bin", ndf=8)
    message = str(info.value)
    assert "expected shape [8, 1, 4, 4], found [4, 1, 4, 4]" in message
    assert "ndf=4" in message


def test_missing_key(tmp_path):
    state = HeadPrunerCNN().state_dict()
    del state["main.14.weight"]
    torch.save(state, tmp_path / "cut.bin")
    with pytest.raises(PrunerCheckpointError, match="missing key main.14.weight"):
        load_pruner_checkpoint(tmp_path / "cut.bin")


class _Payload:
    pass


def test_refuses_arbitrary_objects(tmp_path):
    torch.save({"main.0.weight": _Payload()}, tmp_path / "evil.bin")
    with pytest.raises(PrunerCheckpointError, match="refused"):
        load_pruner_checkpoint(tmp_path / "evil.bin")


def test_missing_file(tmp_path):
    with pytest.raises(PrunerCheckpointError, match="does not exist"):
        load_pruner_checkpoint(tmp_path / "nope.bin")
