"""Attention maps of a frozen BERT and the CNN's per-head scores (methods.md 1.3).

The PLM must be loaded with ``attn_implementation="eager"``: in transformers 5 the SDPA
backend returns no attention weights (methods.md pitfall 25). The pruner passes always
use inputs padded to exactly 128 tokens, because the CNN geometry needs 128x128 maps
(pitfall 8); :func:`pad_to` makes tokenised batches fit.

Example:
    >>> maps = attention_maps(plm, pad_to(batch, 128))       # doctest: +SKIP
    >>> scores = score_heads(cnn, maps, pair=True)           # [L, H]
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from trainables.models import bert_of
from trainables.runtime import eval_mode
from trainables.smp.pruner import MAP_SIZE

SEQUENCE_KEYS = ("input_ids", "attention_mask", "token_type_ids")
# The task -> CNN channel table of SMP:train_all.py:105-116; every other GLUE task
# (MNLI, MRPC, STS-B, QQP, QNLI, RTE, and WNLI through its truthy string) is "pair".
SINGLE_SENTENCE_TASKS = frozenset({"cola", "sst2"})


class AttentionMapsUnavailableError(RuntimeError):
    """The model returned no attention weights (not loaded with eager attention)."""


def is_pair_task(task: str) -> bool:
    """Whether ``task`` uses the pair channel 0 (``sst-2``, ``SST_2`` ... are normalised)."""
    return task.lower().replace("-", "").replace("_", "") not in SINGLE_SENTENCE_TASKS


def pad_to(batch: Mapping[str, torch.Tensor], length: int = MAP_SIZE,
           pad_token_id: int = 0) -> dict[str, torch.Tensor]:
    """Pad (or crop) the sequence tensors of ``batch`` along dim 1 to ``length`` tokens.

    ``input_ids`` are padded with ``pad_token_id`` (0 = BERT's ``[PAD]``), the attention
    mask and token types with 0. Cropping keeps the first ``length`` tokens (like the
    original's truncation, but it may drop the final ``[SEP]``). Other entries
    (``labels``, ``idx``) are passed through.
    """
    out = dict(batch)
    for key in SEQUENCE_KEYS:
        if key not in out:
            continue
        tensor = out[key]
        extra = length - tensor.shape[1]
        if extra < 0:
            out[key] = tensor[:, :length]
        elif extra > 0:
            value = pad_token_id if key == "input_ids" else 0
            out[key] = F.pad(tensor, (0, extra), value=value)
    return out


def model_inputs(batch: Mapping[str, torch.Tensor], device: torch.device | None = None
                 ) -> dict[str, torch.Tensor]:
    """The entries of ``batch`` a ``BertModel`` takes, moved to ``device``."""
    if "input_ids" not in batch or "attention_mask" not in batch:
        raise KeyError(f"a batch needs input_ids and attention_mask, got keys {sorted(batch)}")
    return {k: batch[k].to(device) if device else batch[k] for k in SEQUENCE_KEYS if k in batch}


def encode_with_attention(model: nn.Module, batch: Mapping[str, torch.Tensor]):
    """One unmasked, gradient-free eval-mode pass: ``(maps [L,B,H,S,S], outputs)``.

    ``outputs`` is the ``BertModel`` output (``last_hidden_state``, ``pooler_output``);
    ``maps`` are the post-softmax attention probabilities with the query rows of padding
    tokens zeroed (methods.md 1.3 steps 1-3).

    Raises:
        AttentionMapsUnavailableError: the model's attention backend returns no weights.
    """
    bert = bert_of(model)
    device = next(bert.parameters()).device
    inputs = model_inputs(batch, device)
    # The original forces the PLM into eval inside forward; we restore the mode after.
    with eval_mode(bert), torch.no_grad():
        outputs = bert(**inputs, output_attentions=True, return_dict=True)
    attentions = outputs.attentions
    if not attentions or any(a is None for a in attentions):
        impl = getattr(bert.config, "_attn_implementation", "unknown")
        raise AttentionMapsUnavailableError(
            f"the model returned no attention weights (attn_implementation={impl!r}); SMP "
            "needs them: load the model with attn_implementation='eager' (e.g. "
            "load_classifier(name, n, attn_implementation='eager')) or call "
            "model.set_attn_implementation('eager')"
        )
    maps = torch.stack(attentions)  # [L, B, H, S, S]
    query_mask = inputs["attention_mask"].to(maps.dtype)[None, :, None, :, None]
    return maps * query_mask, outputs


def attention_maps(model: nn.Module, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """Attention maps ``[L, B, H, S, S]`` of ``model`` on ``batch``, padded queries zeroed.

    See :func:`encode_with_attention`; the model must use eager attention.

    Example:
        >>> plm = load_classifier("tiny", 2, attn_implementation="eager")  # doctest: +SKIP
        >>> attention_maps(plm, pad_to(batch)).shape   # [4, B, 4, 128, 128]
    """
    return encode_with_attention(model, batch)[0]


def score_heads(cnn: nn.Module, maps: torch.Tensor, pair: bool) -> torch.Tensor:
    """Batch-mean CNN score per head, ``[L, H]`` (methods.md 1.3 step 4).

    Channel 0 for sentence-pair tasks, 1 for single-sentence tasks. Works for any L and
    H (the CNN sees each map independently); gradients flow into ``cnn``.
    """
    layers, batch, heads, seq, _ = maps.shape
    weight = next(cnn.parameters())  # a half-precision PLM may feed a float32 CNN
    flat = maps.reshape(layers * batch * heads, 1, seq, seq).to(weight.device, weight.dtype)
    scores = cnn(flat)
    return scores[:, 0 if pair else 1].reshape(layers, batch, heads).mean(dim=1)
