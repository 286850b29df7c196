"""Hook masking, physical pruning and parameter counting (methods.md 5.1, 2.10; pitfalls 23-24)."""

from __future__ import annotations

import ast
import copy
from pathlib import Path

import pytest
import torch

import trainables
from trainables.models import count_parameters
from trainables.models import load_classifier
from trainables.smp import HeadMasker
from trainables.smp import head_sparsity
from trainables.smp import prune_heads
from trainables.sparsity import count_params
from trainables.sparsity import dense_encoder_params
from trainables.param_layout import layout_from_config


def _inputs(batch: dict) -> dict:
    return {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}


def _random_keep(seed: int, layers: int = 4, heads: int = 4) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    keep = torch.rand(layers, heads, generator=gen) > 0.5
    keep[torch.arange(layers), torch.randint(heads, (layers,), generator=gen)] = True
    return keep


@pytest.mark.parametrize("seed", range(4))
def test_hook_masking_equals_physical_pruning(tiny_eager, batch, seed):
    keep = _random_keep(seed)
    with torch.no_grad(), HeadMasker(tiny_eager, keep.float()):
        masked = tiny_eager(**_inputs(batch)).logits
    pruned_model = copy.deepcopy(tiny_eager)
    prune_heads(pruned_model, keep)
    with torch.no_grad():
        pruned = pruned_model(**_inputs(batch)).logits
    assert torch.allclose(masked, pruned, atol=1e-5)
    with torch.no_grad():
        dense = tiny_eager(**_inputs(batch)).logits  # hooks removed on exit
    assert not torch.allclose(dense, masked, atol=1e-5)


@pytest.mark.parametrize("seed", range(2))
def test_restored_heads_compute_what_the_pruned_model_computes(tiny_eager, batch, seed,
                                                               tmp_path):
    """SMP's exportable form: the dense architecture, removed heads as zeros (same logits),
    which a stock ``from_pretrained`` loads without a missing or resized weight."""
    from transformers import AutoModelForSequenceClassification

    from trainables.smp.heads import restore_heads

    keep = _random_keep(seed)
    prune_heads(tiny_eager, keep)
    state = torch.get_rng_state()
    stock = restore_heads(tiny_eager, keep)
    assert torch.equal(state, torch.get_rng_state())  # the trial's random stream untouched
    stock.save_pretrained(tmp_path)
    loaded, info = AutoModelForSequenceClassification.from_pretrained(
        tmp_path, output_loading_info=True)
    assert not any(info.values()), info
    with torch.no_grad():
        pruned = tiny_eager.eval()(**_inputs(batch)).logits
        assert torch.allclose(loaded.eval()(**_inputs(batch)).logits, pruned, atol=1e-6)
    query = loaded.bert.encoder.layer[0].attention.self.query
    assert query.out_features == 32  # the dense shape


def test_hook_works_with_sdpa_and_can_be_disabled(batch):
    eager = load_classifier("tiny", 2, attn_implementation="eager", seed=3).eval()
    sdpa = load_classifier("tiny", 2, attn_implementation="sdpa", seed=3).eval()
    keep = _random_keep(9).float()
    with torch.no_grad(), HeadMasker(eager, keep), HeadMasker(sdpa, keep) as masker:
        assert torch.allclose(eager(**_inputs(batch)).logits, sdpa(**_inputs(batch)).logits,
                              atol=1e-5)
        masker.mask = None
        unmasked = sdpa(**_inputs(batch)).logits
    with torch.no_grad():
        assert torch.equal(unmasked, sdpa(**_inputs(batch)).logits)


def test_all_ones_mask_is_identity_and_differentiable(tiny_eager, batch):
    with torch.no_grad():
        dense = tiny_eager(**_inputs(batch)).logits
    mask = torch.ones(4, 4, requires_grad=True)
    masker = HeadMasker(tiny_eager, mask)
    out = tiny_eager(**_inputs(batch)).logits
    assert torch.allclose(out, dense, atol=1e-6)
    out.sum().backward()
    assert mask.grad is not None and mask.grad.abs().sum() > 0
    masker.remove()
    with pytest.raises(ValueError, match=r"\[4, 4\]"):
        masker.mask = torch.ones(3, 4)


def _head_mask_calls(root: Path) -> list[str]:
    found = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Call) and any(k.arg == "head_mask" for k in node.keywords):
                found.append(f"{path}:{node.lineno}")
    return found


def test_no_code_relies_on_the_head_mask_kwarg(tiny_eager, batch):
    """transformers 5 has no head_mask: the kwarg is silently ignored (pitfall 23), which is
    why SMP masks heads with HeadMasker's hook. No call in trainables/ may pass it."""
    assert _head_mask_calls(Path(trainables.__file__).parent) == []
    with torch.no_grad():
        plain = tiny_eager(**_inputs(batch)).logits
        try:
            ignored = tiny_eager(**_inputs(batch), head_mask=torch.zeros(4, 4)).logits
        except TypeError:  # a later release may reject the kwarg: equally not relied on
            return
    assert torch.equal(plain, ignored)


def test_prune_heads_bookkeeping(tiny_eager):
    keep = torch.tensor([[1, 1, 1, 1], [1, 0, 0, 1], [0, 0, 0, 1], [1, 1, 0, 1]], dtype=torch.bool)
    removed = prune_heads(tiny_eager, keep)
    assert removed == {1: [1, 2], 2: [0, 1, 2], 3: [2]}
    layer = tiny_eager.bert.encoder.layer[2]
    assert layer.attention.self.num_attention_heads == 1
    assert layer.attention.self.all_head_size == 8
    assert layer.attention.self.query.weight.shape == (8, 32)
    assert layer.attention.self.value.bias.shape == (8,)
    assert layer.attention.output.dense.weight.shape == (32, 8)
    assert tiny_eager.config.num_attention_heads == 4  # the config still describes the dense model
    with pytest.raises(ValueError, match="already pruned"):
        prune_heads(tiny_eager, keep)


def test_prune_heads_refuses_empty_layers(tiny_eager):
    keep = torch.ones(4, 4, dtype=torch.bool)
    keep[2] = False
    with pytest.raises(ValueError, match=r"layers \[2\]"):
        prune_heads(tiny_eager, keep)
    with pytest.raises(ValueError, match="shape"):
        prune_heads(tiny_eager, torch.ones(4, 3, dtype=torch.bool))


def test_parameter_counts(tiny_eager):
    encoder = tiny_eager.bert.encoder
    remaining, total = count_params(tiny_eager)
    assert total == remaining == count_parameters(encoder)
    assert total == dense_encoder_params(tiny_eager.config)
    keep = _random_keep(5)
    dropped = int((~keep).sum())
    prune_heads(tiny_eager, keep)
    by_pruning, total_after = count_params(tiny_eager)
    assert total_after == total  # the dense denominator, from the config
    assert by_pruning == count_parameters(encoder)
    per_head = layout_from_config(tiny_eager.config).params_per_head
    assert by_pruning == total - dropped * per_head
    assert count_params(tiny_eager).weight_sparsity == pytest.approx(1 - by_pruning / total)
    assert head_sparsity(keep) == pytest.approx(dropped / 16)


def test_head_sparsity_from_lists():
    assert head_sparsity([[True, False], [False, False]]) == pytest.approx(0.75)
