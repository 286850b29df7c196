"""Sentence representations for the contrastive terms (methods.md 2.8, pitfalls 15 and 30).

Two modes, both L2-normalised, both from the last layer, no projection head:

- ``"cls"``: the pooler output ``tanh(dense(h_[CLS]))`` (every shipped GLUE script);
- ``"mean-pooling"``: the mean of the last hidden states over non-padding tokens.

The student's training anchor in ``"cls"`` mode is the pooled vector *after* the classifier
dropout, the very tensor the classifier reads; bank encodings stop before that dropout. So
:func:`forward_with_anchor` runs ``model.bert`` once and applies dropout and classifier
itself (transformers' ``BertForSequenceClassification.forward`` hides the pooled vector).

Example:
    >>> from trainables.models import load_classifier, load_tokenizer
    >>> model = load_classifier("tiny", 2)
    >>> batch = load_tokenizer("tiny")(["a good film", "a dull plot"], return_tensors="pt")
    >>> logits, anchor = forward_with_anchor(model, batch, "cls")
    >>> logits.shape, anchor.shape
    (torch.Size([2, 2]), torch.Size([2, 32]))
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

REPRESENTATIONS = ("cls", "mean-pooling")
# What the BERT forward reads from a batch dict; `labels` and `idx` stay out.
MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def check_representation(mode: str) -> str:
    if mode not in REPRESENTATIONS:
        raise ValueError(f"representation must be one of {REPRESENTATIONS}, but got {mode=!r}")
    return mode


def model_inputs(batch: Mapping[str, torch.Tensor], device: torch.device) -> dict:
    """The model's inputs from a batch dict, moved to ``device``."""
    if "input_ids" not in batch or "attention_mask" not in batch:
        raise KeyError(f"a batch needs input_ids and attention_mask, but has {sorted(batch)}")
    return {k: batch[k].to(device, non_blocking=True) for k in MODEL_INPUTS if k in batch}


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``hidden`` [B, S, d] over positions where ``attention_mask`` is 1."""
    weights = (attention_mask == 1).to(hidden.dtype).unsqueeze(-1)
    return (hidden * weights).sum(dim=1) / attention_mask.sum(dim=1, keepdim=True).to(hidden.dtype)


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _run_bert(model: nn.Module, batch: Mapping[str, torch.Tensor]):
    inputs = model_inputs(batch, _device_of(model))
    return model.bert(**inputs, return_dict=True), inputs["attention_mask"]


def forward_with_anchor(
    model: nn.Module, batch: Mapping[str, torch.Tensor], mode: str = "cls"
) -> tuple[torch.Tensor, torch.Tensor]:
    """One forward pass of a sequence classifier: its logits and its contrastive anchor.

    Args:
        model: a ``BertForSequenceClassification`` (masked or not).
        batch: a dict with ``input_ids``, ``attention_mask`` and optionally ``token_type_ids``.
        mode: ``"cls"`` (anchor = dropout(pooler output), the classifier's input) or
            ``"mean-pooling"`` (anchor = masked mean of the last hidden states).

    Returns:
        ``(logits [B, num_labels], anchor [B, d])``, the anchor L2-normalised with its graph.
    """
    check_representation(mode)
    outputs, attention_mask = _run_bert(model, batch)
    pooled = model.dropout(outputs.pooler_output)
    logits = model.classifier(pooled)
    if mode == "cls":
        anchor = pooled
    else:
        anchor = mean_pool(outputs.last_hidden_state, attention_mask)
    return logits, F.normalize(anchor, p=2, dim=-1)


def encode_batch(
    model: nn.Module, batch: Mapping[str, torch.Tensor], mode: str = "cls"
) -> torch.Tensor:
    """The bank representation of a batch: L2-normalised, before the classifier dropout.

    Runs under whatever grad mode and train/eval mode the caller set (``encode_example=True``
    in the original).
    """
    check_representation(mode)
    outputs, attention_mask = _run_bert(model, batch)
    if mode == "cls":
        vectors = outputs.pooler_output
    else:
        vectors = mean_pool(outputs.last_hidden_state, attention_mask)
    return F.normalize(vectors, p=2, dim=-1)
