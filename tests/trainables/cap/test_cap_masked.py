"""wrap_bert / bake_masks (methods.md 2.2, 2.10, pitfall 27)."""

from __future__ import annotations

import copy
import pickle

import pytest
import torch
from cap_data import batches_of
from torch import nn
from transformers import BertForSequenceClassification

from trainables.cap import MaskedLinear
from trainables.cap import PruningState
from trainables.cap import bake_masks
from trainables.cap import count_remaining
from trainables.cap import masked_linears
from trainables.cap import wrap_bert
from trainables.models import LINEAR_ROLES
from trainables.models import iter_encoder_linears
from trainables.models import load_classifier


def logits_of(model, batch):
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
    with torch.no_grad():
        return model(**inputs).logits


def randomise_scores(model, seed=0):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in masked_linears(model):
            module.mask_scores.copy_(torch.randn(module.mask_scores.shape, generator=gen))


def test_wrap_replaces_the_six_linears_of_every_layer(tiny_model):
    weights = {(i, role): m.weight for i, role, m in iter_encoder_linears(tiny_model)}
    state = PruningState("topk")
    wrap_bert(tiny_model, state, mask_init=0.25)
    modules = masked_linears(tiny_model)
    assert len(modules) == 6 * tiny_model.config.num_hidden_layers
    for i, role, module in iter_encoder_linears(tiny_model):
        assert isinstance(module, MaskedLinear) and module.state is state
        assert module.weight is weights[(i, role)]  # shared, not copied
        assert torch.all(module.mask_scores == 0.25)
        assert module.mask_scores.shape == module.weight.shape
    assert type(tiny_model.bert.pooler.dense) is nn.Linear
    assert type(tiny_model.classifier) is nn.Linear


def test_embeddings_frozen_the_rest_trainable(tiny_model):
    wrap_bert(tiny_model, PruningState("soft"))
    assert not any(p.requires_grad for p in tiny_model.bert.embeddings.parameters())
    trainable = {n for n, p in tiny_model.named_parameters() if p.requires_grad}
    assert all(not n.startswith("bert.embeddings") for n in trainable)
    assert "bert.encoder.layer.0.attention.self.query.mask_scores" in trainable
    assert "bert.encoder.layer.0.attention.self.query.weight" in trainable
    assert "classifier.weight" in trainable


def test_wrapping_twice_or_with_a_bad_state_fails(tiny_model):
    wrap_bert(tiny_model, PruningState("topk"))
    with pytest.raises(ValueError, match="already wrapped"):
        wrap_bert(tiny_model, PruningState("topk"))
    with pytest.raises(TypeError, match="PruningState"):
        wrap_bert(load_classifier("tiny", 2), "topk")


def test_threshold_one_equals_dense(tiny_model, dataset):
    batch = batches_of(dataset, 8)[0]
    dense = logits_of(tiny_model, batch)
    wrap_bert(tiny_model, PruningState("topk", 1.0))
    assert torch.allclose(logits_of(tiny_model, batch), dense, atol=1e-6)


def test_no_grad_cache_follows_threshold_and_scores(tiny_model, dataset):
    batch = batches_of(dataset, 8)[0]
    state = PruningState("topk", 1.0)
    wrap_bert(tiny_model, state)
    randomise_scores(tiny_model)
    full = logits_of(tiny_model, batch)
    state.threshold = 0.3
    pruned = logits_of(tiny_model, batch)
    assert not torch.allclose(full, pruned)
    with torch.no_grad():  # an in-place update, as an optimizer step, must invalidate the cache
        for module in masked_linears(tiny_model):
            module.mask_scores.neg_()
    assert not torch.allclose(logits_of(tiny_model, batch), pruned)
    with torch.enable_grad():  # the grad path computes the same thing
        inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
        assert torch.allclose(tiny_model(**inputs).logits.detach(), logits_of(tiny_model, batch))


@pytest.mark.parametrize("method,threshold", [("topk", 0.2), ("soft", 0.6)])
def test_bake_keeps_counts_and_logits(tiny_model, dataset, tmp_path, method, threshold):
    batch = batches_of(dataset, 8)[0]
    state = PruningState(method, threshold)
    wrap_bert(tiny_model, state)
    randomise_scores(tiny_model)
    before_counts = count_remaining(tiny_model)
    before_logits = logits_of(tiny_model, batch)
    assert before_counts[0] < before_counts[1]

    bake_masks(tiny_model)
    assert not masked_linears(tiny_model)
    assert all(type(m) is nn.Linear for _, _, m in iter_encoder_linears(tiny_model))
    assert not any("mask_scores" in k for k in tiny_model.state_dict())
    assert count_remaining(tiny_model) == before_counts
    assert torch.equal(logits_of(tiny_model, batch), before_logits)

    tiny_model.save_pretrained(tmp_path)
    reloaded = BertForSequenceClassification.from_pretrained(tmp_path).eval()
    assert count_remaining(reloaded) == before_counts
    assert torch.allclose(logits_of(reloaded, batch), before_logits, atol=1e-6)


def test_scores_initialised_after_from_pretrained_minilm():
    model = load_classifier("minilm", 2)
    query = model.bert.encoder.layer[0].attention.self.query.weight.detach().clone()
    wrap_bert(model, PruningState("topk"), mask_init=0.0)
    modules = masked_linears(model)
    assert len(modules) == 6 * 6 == 6 * len(LINEAR_ROLES)
    for module in modules:
        assert not module.mask_scores.is_meta
        assert torch.count_nonzero(module.mask_scores) == 0  # exactly the constant, no garbage
    assert torch.equal(modules[0].weight, query)  # the pre-trained weights survived


def test_state_dict_round_trip_and_deepcopy_of_a_wrapped_model(tiny_model, dataset):
    batch = batches_of(dataset, 8)[0]
    wrap_bert(tiny_model, PruningState("topk", 0.3))
    randomise_scores(tiny_model)
    expected = logits_of(tiny_model, batch)

    clone = copy.deepcopy(tiny_model)
    assert masked_linears(clone)[0].state is masked_linears(clone)[5].state  # still shared
    assert masked_linears(clone)[0].state is not masked_linears(tiny_model)[0].state
    assert torch.equal(logits_of(clone, batch), expected)

    fresh = wrap_bert(load_classifier("tiny", 2, seed=1).eval(), PruningState("topk", 0.3))
    fresh.load_state_dict(tiny_model.state_dict())
    assert torch.equal(logits_of(fresh, batch), expected)
    restored = pickle.loads(pickle.dumps(PruningState("soft", 0.25)))
    assert (restored.method, restored.threshold) == ("soft", 0.25)
