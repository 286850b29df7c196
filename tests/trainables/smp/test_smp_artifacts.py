"""The pieces of the SMP artifacts: chunked scoring, subsets, keys, mask dispatch."""

from __future__ import annotations

import pytest
import torch

import trainables.smp.artifacts as artifacts
from trainables.config import ConfigError
from trainables.config import from_mapping
from trainables.smp import HeadPrunerCNN
from trainables.smp import SmpConfig
from trainables.smp import compute_head_scores


def test_chunked_scores_equal_one_pass(tiny_eager, make, monkeypatch):
    monkeypatch.setattr(artifacts, "SCORE_CHUNK", 2)  # chunks of 2 batches: 6 rows
    cnn = HeadPrunerCNN(ndf=2)
    gen = torch.Generator().manual_seed(1)
    for module in cnn.modules():  # wide weights: scores that differ by head and by batch
        if isinstance(module, torch.nn.Conv2d):
            torch.nn.init.normal_(module.weight, 0.0, 1.0, generator=gen)
    tensors = make(14, pair=True)  # 5 batches of 3, the last one partial
    whole = compute_head_scores(tiny_eager, cnn.eval(), tensors, pair=True, batch_size=3)
    chunked = artifacts.chunked_scores(tiny_eager, cnn, tensors, pair=True, batch_size=3)
    assert torch.allclose(whole, chunked, atol=1e-6)
    assert whole.std() > 0


def test_subsample_is_fixed_and_ordered():
    tensors = {"input_ids": torch.arange(100)[:, None], "idx": torch.arange(100)}
    first, again = artifacts.subsample(tensors, 10), artifacts.subsample(tensors, 10)
    assert torch.equal(first["idx"], again["idx"]) and len(first["idx"]) == 10
    assert torch.equal(first["idx"], first["idx"].sort().values)
    assert artifacts.subsample(tensors, None)["idx"].equal(tensors["idx"])


def test_keep_mask_follows_allocation():
    scores = torch.tensor([[0.1, 0.2, 0.3, 0.4], [1.0, 1.1, 1.2, 1.3]])
    per_layer = artifacts.keep_mask(from_mapping(SmpConfig, {"prune_ratio": 0.5}), scores)
    assert per_layer.sum(dim=1).tolist() == [2, 2]
    overall = artifacts.keep_mask(
        from_mapping(SmpConfig, {"prune_ratio": 0.5, "allocation": "global"}), scores)
    assert overall.sum(dim=1).tolist() == [1, 3]  # the first layer keeps >= 1 head


def test_tiny_model_pruners_are_keyed_by_the_seed_that_draws_its_weights():
    tiny = from_mapping(SmpConfig, {"model": "tiny", "seed": 3})
    assert artifacts.plm_identity(tiny) == {"model": "tiny", "init_seed": 3}
    assert artifacts.plm_identity(SmpConfig(model="minilm", seed=3)) == {"model": "minilm"}


def test_released_checkpoint_hash_changes_with_its_weights(tmp_path):
    path = tmp_path / "p.bin"
    torch.save(HeadPrunerCNN().state_dict(), path)
    _, first = artifacts.released_pruner(str(path))
    cnn = HeadPrunerCNN()
    cnn.reset_parameters(torch.Generator().manual_seed(9))
    torch.save(cnn.state_dict(), path)
    _, second = artifacts.released_pruner(str(path))
    assert first != second and len(first) == 64


@pytest.mark.parametrize("ratio", [0.1, 0.5, 0.74])
def test_ratio_check_accepts_what_fits(ratio):
    cfg = from_mapping(SmpConfig, {"prune_ratio": ratio, "allocation": "global"})
    artifacts.check_ratio_fits(cfg, 4, 4)


def test_the_pair_representation_keys_the_pruner_and_pooler_keeps_the_old_key():
    data = {}
    pooler = artifacts.pruner_inputs(SmpConfig(), data)
    mean = artifacts.pruner_inputs(SmpConfig(meta_pair_representation="mean"), data)
    assert "pair_representation" not in pooler["meta"]  # keys from before the option
    assert mean["meta"]["pair_representation"] == "mean"
    with pytest.raises(ConfigError, match="meta_pair_representation.*'cls'"):
        from_mapping(SmpConfig, {"meta_pair_representation": "cls"})
