"""Attention maps and head scores (methods.md 1.3; pitfalls 6, 8, 25)."""

from __future__ import annotations

import pytest
import torch

from trainables.models import load_classifier
from trainables.smp import AttentionMapsUnavailableError
from trainables.smp import HeadPrunerCNN
from trainables.smp import attention_maps
from trainables.smp import is_pair_task
from trainables.smp import pad_to
from trainables.smp import score_heads


def test_maps_shape_and_zeroed_padding(tiny_eager, batch):
    tiny_eager.train()
    maps = attention_maps(tiny_eager, batch)
    assert tiny_eager.training  # the caller's mode is restored
    assert maps.shape == (4, 6, 4, 128, 128)
    assert not maps.requires_grad
    query_ok = batch["attention_mask"].bool()[None, :, None, :]  # [1, B, 1, S]
    row_sums = maps.sum(dim=-1)  # [L, B, H, S]
    assert torch.all(row_sums.masked_select(~query_ok.expand_as(row_sums)) == 0)
    real = row_sums.masked_select(query_ok.expand_as(row_sums))
    assert torch.allclose(real, torch.ones_like(real), atol=1e-5)
    # key columns of padding get ~0 probability through the additive mask
    key_pad = ~batch["attention_mask"].bool()[None, :, None, None, :]
    assert maps.masked_select(key_pad.expand_as(maps)).abs().max() < 1e-6


def test_maps_are_eval_mode(tiny_eager, batch):
    tiny_eager.train()  # dropout would make two passes differ
    assert torch.equal(attention_maps(tiny_eager, batch), attention_maps(tiny_eager, batch))


def test_sdpa_model_gives_a_clear_error(batch):
    model = load_classifier("tiny", 2, attn_implementation="sdpa")
    with pytest.raises(AttentionMapsUnavailableError, match="attn_implementation='eager'"):
        attention_maps(model, batch)


def test_pad_to_pads_and_crops(make):
    short = make(3, max_length=20)
    padded = pad_to(short, 128)
    for key in ("input_ids", "attention_mask", "token_type_ids"):
        assert padded[key].shape == (3, 128)
        assert torch.equal(padded[key][:, :20], short[key])
        assert padded[key][:, 20:].eq(0).all()
    assert padded["labels"] is short["labels"]
    cropped = pad_to(make(2, max_length=128), 64)
    assert cropped["input_ids"].shape == (2, 64)


def test_score_heads_general_layout():
    """L != H (the original's reshape was only right for L == H, pitfall 6)."""
    torch.manual_seed(0)
    cnn = HeadPrunerCNN(ndf=2).eval()
    for module in cnn.modules():  # a fresh eval-mode CNN maps every input to ~1.0
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.normal_(module.weight, 0.0, 0.5)
    maps = torch.rand(3, 2, 5, 128, 128).softmax(-1)  # [L=3, B=2, H=5, S, S]
    scores = score_heads(cnn, maps, pair=False)
    assert scores.shape == (3, 5)
    with torch.no_grad():
        one = cnn(maps[2, :, 4].unsqueeze(1))[:, 1].mean()
    assert torch.allclose(scores[2, 4], one, atol=1e-6)
    pair = score_heads(cnn, maps, pair=True)
    assert not torch.allclose(pair, scores)


def test_score_heads_gradient_reaches_cnn(tiny_eager, batch):
    cnn = HeadPrunerCNN(ndf=2).train()
    score_heads(cnn, attention_maps(tiny_eager, batch), pair=True).sum().backward()
    assert cnn.main[0].weight.grad is not None and cnn.main[0].weight.grad.abs().sum() > 0


@pytest.mark.parametrize(("task", "pair"), [("cola", False), ("SST-2", False), ("sst2", False),
                                            ("mnli", True), ("wnli", True), ("sts-b", True)])
def test_task_channels(task, pair):
    assert is_pair_task(task) is pair
