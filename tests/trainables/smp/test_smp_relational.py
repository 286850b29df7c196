"""The relational KL loss (methods.md 1.4 step 5)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from trainables.smp import HeadMasker
from trainables.smp import cos_dist
from trainables.smp import encode_with_attention
from trainables.smp import feature_mask
from trainables.smp import relational_kl
from trainables.smp import relational_loss


def test_cos_dist_layout_and_odd_batch():
    x = torch.randn(5, 8)
    pairs = cos_dist(x)
    assert pairs.shape == (8, 2)  # 4 x 4 similarities (last row dropped) as adjacent pairs
    centred = x - x.mean(0)  # centred on all 5 rows before dropping the 5th
    unit = F.normalize(centred[:4], dim=-1)
    assert torch.allclose(pairs.reshape(4, 4), unit @ unit.T * 10, atol=1e-5)
    assert torch.allclose(pairs[0], torch.tensor([10.0, pairs[0, 1].item()]), atol=1e-4)


def test_feature_mask_keeps_about_a_fifth_scaled_by_five():
    mask = feature_mask(10_000, torch.Generator().manual_seed(0))
    assert set(mask.unique().tolist()) == {0.0, 5.0}
    assert 0.18 < (mask > 0).float().mean().item() < 0.22


def test_kl_zero_for_identical_and_positive_otherwise():
    features = feature_mask(64, torch.Generator().manual_seed(1))
    x = torch.randn(6, 64)
    assert relational_kl(x, x, features).abs() < 1e-6
    assert relational_kl(x, x + torch.randn(6, 64), features) > 1e-4
    assert torch.allclose(relational_kl(x, x * 3, features), torch.zeros(()), atol=1e-6)


def _loss(model, batch, mask, pair):
    maps, dense = encode_with_attention(model, batch)
    features = feature_mask(32, torch.Generator().manual_seed(0))
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
    with HeadMasker(model, mask):
        pruned = model.bert(**inputs)
    return relational_loss(dense, pruned, batch["attention_mask"], pair, features)


def test_loss_on_the_model(tiny_eager, batch):
    ones = torch.ones(4, 4)
    half = torch.tensor([[1.0, 0, 1, 0]] * 4)
    for pair in (True, False):
        assert _loss(tiny_eager, batch, ones, pair).abs() < 1e-6
        assert _loss(tiny_eager, batch, half, pair) > 0
    # the single-sentence loss is the mean-pooled KL times 10
    maps, dense = encode_with_attention(tiny_eager, batch)
    single = _loss(tiny_eager, batch, half, False)
    with HeadMasker(tiny_eager, half):
        pruned = tiny_eager.bert(**{k: batch[k] for k in ("input_ids", "attention_mask")},
                                 token_type_ids=batch["token_type_ids"])
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pool = lambda h: (h * mask).sum(1) / mask.sum(1)  # noqa: E731
    features = feature_mask(32, torch.Generator().manual_seed(0))
    expected = relational_kl(pool(dense.last_hidden_state), pool(pruned.last_hidden_state),
                             features) * 10
    assert torch.allclose(single, expected, atol=1e-6)


def test_pair_tasks_can_be_compared_by_masked_mean(tiny_eager, batch):
    """``pair_representation="mean"`` (for untrained poolers) is the single-sentence loss."""
    half = torch.tensor([[1.0, 0, 1, 0]] * 4)
    maps, dense = encode_with_attention(tiny_eager, batch)
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
    with HeadMasker(tiny_eager, half):
        pruned = tiny_eager.bert(**inputs)
    features = feature_mask(32, torch.Generator().manual_seed(0))
    args = (dense, pruned, batch["attention_mask"])
    mean_pair = relational_loss(*args, True, features, pair_representation="mean")
    assert torch.equal(mean_pair, relational_loss(*args, False, features))
    assert not torch.equal(mean_pair, relational_loss(*args, True, features))
    with pytest.raises(ValueError, match="pair_representation.*'cls'"):
        relational_loss(*args, True, features, pair_representation="cls")
