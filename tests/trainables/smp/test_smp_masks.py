"""The cal step, mask rules and mask files (methods.md 1.5, 1.6)."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest
import torch

from trainables.smp import HeadPrunerCNN
from trainables.smp import MaskFileError
from trainables.smp import PruneRatioError
from trainables.smp import attention_maps
from trainables.smp import compute_head_scores
from trainables.smp import head_mask_global
from trainables.smp import head_mask_per_layer
from trainables.smp import import_original_mask
from trainables.smp import load_mask_json
from trainables.smp import save_mask_json
from trainables.smp import score_heads


def _original_rule(scores: torch.Tensor, ratio: float) -> list[list[bool]]:
    """SMP:cal.py:376-379, literally (for ratios >= 1/H)."""
    out = []
    for line in scores.numpy():
        bound = sorted(line)[int(len(line) * ratio) - 1]
        out.append([bool(x) for x in line > bound])
    return out


@pytest.mark.parametrize("ratio", [0.1, 0.25, 0.5, 0.6, 0.75, 0.9, 0.99])
def test_per_layer_rule(ratio):
    scores = torch.rand(6, 12, generator=torch.Generator().manual_seed(int(ratio * 100)))
    keep = head_mask_per_layer(scores, ratio)
    assert keep.dtype == torch.bool
    assert keep.sum(dim=1).tolist() == [12 - int(12 * ratio)] * 6
    assert keep.tolist() == _original_rule(scores, ratio)
    top = scores.topk(12 - int(12 * ratio), dim=1).indices
    assert keep.gather(1, top).all()


def test_small_ratio_keeps_every_head():
    """int(H*r) == 0: the original indexed position -1 and kept nothing."""
    assert head_mask_per_layer(torch.rand(2, 12), 0.05).all()
    assert head_mask_per_layer(torch.rand(2, 12), 0.0).all()


@pytest.mark.parametrize("ratio", [-0.1, 1.0, 1.5, float("nan")])
def test_ratio_validation(ratio):
    with pytest.raises(PruneRatioError, match=r"\[0, 1\)"):
        head_mask_per_layer(torch.rand(2, 4), ratio)
    with pytest.raises(PruneRatioError):
        head_mask_global(torch.rand(2, 4), ratio)


def test_ties():
    scores = torch.tensor([[1.0, 1.0, 1.0, 1.0], [0.1, 0.5, 0.5, 0.9]])
    with pytest.raises(PruneRatioError, match=r"layers \[0\]"):
        head_mask_per_layer(scores, 0.5)
    exact = head_mask_per_layer(scores, 0.5, exact_count=True)
    assert exact.sum(1).tolist() == [2, 2]
    assert exact[1].tolist() == [False, False, True, True]
    # the faithful rule keeps fewer heads on a tie at the bound
    assert head_mask_per_layer(torch.tensor([[0.1, 0.5, 0.5, 0.9]]), 0.5).tolist() == [
        [False, False, False, True]]


@pytest.mark.parametrize("ratio", [0.1, 0.3, 0.5, 0.7])
def test_global_rule(ratio):
    scores = torch.rand(6, 12, generator=torch.Generator().manual_seed(3))
    scores[2] -= 5  # layer 2 holds the 12 lowest scores
    keep = head_mask_global(scores, ratio)
    assert int((~keep).sum()) == round(72 * ratio)
    assert keep.sum(dim=1).min() >= 1
    removed = scores[~keep]
    kept_elsewhere = scores[keep & (torch.arange(6) != 2).unsqueeze(1)]
    assert removed.max() <= kept_elsewhere.min() or keep[2].sum() == 1


def test_global_rule_refuses_emptying_layers():
    with pytest.raises(PruneRatioError, match="at most 12"):
        head_mask_global(torch.rand(4, 4), 0.9)


def test_json_round_trip(tmp_path):
    keep = torch.rand(4, 6) > 0.5
    path = save_mask_json(keep, tmp_path / "sub" / "head_mask.json")
    assert json.loads(path.read_text()) == keep.tolist()
    assert torch.equal(load_mask_json(path), keep)
    assert [p.name for p in path.parent.iterdir()] == ["head_mask.json"]  # no temp files left
    (tmp_path / "bad.json").write_text(json.dumps([[1, 0], [1, 1]]))
    with pytest.raises(MaskFileError, match="booleans"):
        load_mask_json(tmp_path / "bad.json")


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_import_original_numpy_pickle(tmp_path, protocol):
    scores = np.random.default_rng(0).random((3, 4))
    original = [list(line > np.sort(line)[1]) for line in scores]  # numpy.bool_ values
    assert isinstance(original[0][0], np.bool_)
    path = tmp_path / "head_mask.bin"
    path.write_bytes(pickle.dumps(original, protocol=protocol))
    keep = import_original_mask(path)
    assert keep.tolist() == [[bool(x) for x in row] for row in original]


def test_import_plain_bools(tmp_path):
    (tmp_path / "m.bin").write_bytes(pickle.dumps([[True, False], [False, True]]))
    assert import_original_mask(tmp_path / "m.bin").tolist() == [[True, False], [False, True]]


class _Anything:
    def __init__(self):
        self.x = 1


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_import_refuses_objects_without_running_them(tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "exploit.bin").write_bytes(pickle.dumps([[True, _Exploit(marker)]]))
    with pytest.raises(MaskFileError, match="refused to load"):
        import_original_mask(tmp_path / "exploit.bin")
    assert not marker.exists()
    (tmp_path / "obj.bin").write_bytes(pickle.dumps([[_Anything()]]))
    with pytest.raises(MaskFileError, match="refused to load"):
        import_original_mask(tmp_path / "obj.bin")
    (tmp_path / "f.bin").write_bytes(pickle.dumps([[np.float64(1.0)]]))
    with pytest.raises(MaskFileError):
        import_original_mask(tmp_path / "f.bin")


@pytest.mark.parametrize("value", [[[1, 0]], [[True], [True, False]], {"a": True}, [], "x"])
def test_import_refuses_non_boolean_matrices(tmp_path, value):
    (tmp_path / "m.bin").write_bytes(pickle.dumps(value))
    with pytest.raises(MaskFileError):
        import_original_mask(tmp_path / "m.bin")


def test_compute_head_scores_is_the_mean_of_batch_means(tiny_eager, make):
    data = make(5, max_length=40)  # shorter inputs are padded to 128 for the CNN
    cnn = HeadPrunerCNN(ndf=2)
    cnn.train()
    tiny_eager.train()
    scores = compute_head_scores(tiny_eager, cnn, data, pair=True, batch_size=2)
    assert cnn.training and tiny_eager.training  # modes restored
    assert scores.shape == (4, 4) and not scores.requires_grad
    from trainables.smp import pad_to

    cnn.eval()
    with torch.no_grad():
        per_batch = [score_heads(cnn, attention_maps(tiny_eager, pad_to(
            {k: v[i:i + 2] for k, v in data.items()})), True) for i in (0, 2, 4)]
    assert torch.allclose(scores, torch.stack(per_batch).mean(0), atol=1e-6)
