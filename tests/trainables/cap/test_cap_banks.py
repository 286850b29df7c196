"""MemoryBank (methods.md 2.6) and the representations it stores (2.8)."""

from __future__ import annotations

import pytest
import torch
from cap_data import NUM_EXAMPLES
from cap_data import batches_of

from trainables.cap import MemoryBank
from trainables.cap import PruningState
from trainables.cap import cap_contrastive
from trainables.cap import encode_batch
from trainables.cap import forward_with_anchor
from trainables.cap import wrap_bert

DIM = 32  # the tiny BERT's hidden size


def one_by_one(model, dataset, mode="cls"):
    with torch.no_grad():
        return torch.cat([encode_batch(model, b, mode) for b in batches_of(dataset, 1)])


@pytest.mark.parametrize("mode", ["cls", "mean-pooling"])
def test_bank_row_k_is_dataset_row_k_after_shuffled_batches(tiny_model, dataset, mode):
    order = torch.randperm(NUM_EXAMPLES, generator=torch.Generator().manual_seed(3))
    shuffled = batches_of(dataset, 5, order=order)
    bank = MemoryBank(NUM_EXAMPLES, DIM)
    bank.encode(tiny_model, shuffled, mode, train_mode=False)
    assert bank.vectors.shape == (NUM_EXAMPLES, 1, DIM) and bank.depth == 1
    assert torch.allclose(bank.vectors[:, 0], one_by_one(tiny_model, dataset, mode), atol=1e-5)
    assert torch.equal(bank.labels, dataset["labels"])
    assert torch.allclose(bank.vectors.norm(dim=-1), torch.ones(NUM_EXAMPLES, 1), atol=1e-5)


def test_snapshots_append_along_dim_one(tiny_model, dataset):
    state = PruningState("topk", 1.0)
    wrap_bert(tiny_model, state)
    bank = MemoryBank(NUM_EXAMPLES, DIM, capacity=2)
    assert bank.depth == 0 and bank.vectors.shape == (NUM_EXAMPLES, 0, DIM)
    reserved = bank.nbytes
    assert reserved == NUM_EXAMPLES * 2 * DIM * 4
    for threshold in (1.0, 0.5, 0.2):  # the third column grows the storage past capacity
        state.threshold = threshold
        bank.encode(tiny_model, batches_of(dataset, 8), "cls", train_mode=False)
    assert bank.vectors.shape == (NUM_EXAMPLES, 3, DIM)
    assert torch.allclose(bank.vectors[:, 2], one_by_one(tiny_model, dataset), atol=1e-5)
    state.threshold = 1.0
    assert torch.allclose(bank.vectors[:, 0], one_by_one(tiny_model, dataset), atol=1e-5)
    assert not torch.allclose(bank.vectors[:, 0], bank.vectors[:, 2])
    assert bank.nbytes == NUM_EXAMPLES * 3 * DIM * 4 + NUM_EXAMPLES * 8


def test_train_mode_encoding_uses_dropout_and_restores_the_mode(tiny_model, dataset):
    bank = MemoryBank(NUM_EXAMPLES, DIM, dtype=torch.float16)
    torch.manual_seed(0)
    bank.encode(tiny_model, batches_of(dataset, 8), "cls", train_mode=True)
    assert not tiny_model.training  # the fixture's eval mode is back
    assert bank.vectors.dtype == torch.float16
    assert bank.nbytes == NUM_EXAMPLES * DIM * 2 + NUM_EXAMPLES * 8
    eval_vectors = one_by_one(tiny_model, dataset).half()
    assert not torch.allclose(bank.vectors[:, 0], eval_vectors, atol=1e-3)


def test_every_row_must_be_encoded(tiny_model, dataset):
    bank = MemoryBank(NUM_EXAMPLES, DIM)
    with pytest.raises(ValueError, match="covered 16 of 24 rows"):
        bank.encode(tiny_model, batches_of(dataset, 8)[:2], "cls")
    assert bank.depth == 0
    with pytest.raises(ValueError, match="representation must be one of"):
        bank.encode(tiny_model, batches_of(dataset, 8), "max-pooling")
    with pytest.raises(ValueError, match="dtype"):
        MemoryBank(4, 4, dtype=torch.int8)


def test_anchor_is_the_classifier_input_in_one_pass(tiny_model, dataset):
    batch = batches_of(dataset, 8)[0]
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
    tiny_model.train()
    torch.manual_seed(1)
    logits, anchor = forward_with_anchor(tiny_model, batch, "cls")
    torch.manual_seed(1)  # same dropout draws, same order: transformers' own forward
    assert torch.allclose(logits, tiny_model(**inputs).logits, atol=1e-6)
    # The anchor is the (dropped-out) classifier input: logits are affine in its direction.
    weight, bias = tiny_model.classifier.weight, tiny_model.classifier.bias
    direction = torch.nn.functional.normalize(logits - bias, dim=-1)
    assert torch.allclose(
        direction, torch.nn.functional.normalize(anchor @ weight.T, dim=-1), atol=1e-5
    )
    assert anchor.requires_grad
    tiny_model.eval()
    _, anchor = forward_with_anchor(tiny_model, batch, "cls")
    assert torch.allclose(anchor, encode_batch(tiny_model, batch, "cls"), atol=1e-6)


def test_anchor_equal_to_its_bank_copy_gives_a_finite_falling_loss(tiny_model, dataset):
    bank = MemoryBank(NUM_EXAMPLES, DIM)
    bank.encode(tiny_model, batches_of(dataset, 8), "cls")
    batch = batches_of(dataset, 8)[1]
    anchor = bank.vectors[batch["idx"], 0].clone().requires_grad_()
    optimizer = torch.optim.SGD([anchor], lr=0.05)
    losses = []
    for _ in range(5):
        loss = cap_contrastive(
            anchor,
            batch["idx"],
            batch["labels"],
            bank.vectors,
            bank.labels,
            tau=0.1,
            extra_examples=8,
            w_u=0.1,
            w_s=10.0,
            generator=torch.Generator().manual_seed(0),
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0]
