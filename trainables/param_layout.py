"""The counting rule's arithmetic from a model's shapes alone (methods.md 2.10; torch-free).

The result schema counts one set of encoder parameters for every method: the six linear
weights of every layer, their biases and the LayerNorms, where only weights are ever pruned
(:mod:`trainables.sparsity` counts them on a model). :class:`ParamLayout` gives the same
totals from the sizes in a model's ``config.json``, so the exact target maps
(:mod:`trainables.knob_maps`) and the driver's checks need neither weights nor torch.

Example:
    >>> layout = ParamLayout(layers=4, hidden=32, intermediate=37, heads=4)
    >>> layout.total, layout.fixed
    (27156, 1300)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ParamLayout:
    """The shapes the counting rule needs: a BERT encoder's sizes.

    Per layer: four ``hidden x hidden`` matrices (query, key, value, attention output), two
    ``hidden x intermediate`` ones (FFN in and out); their biases (``5 * hidden +
    intermediate``) and two LayerNorms (``4 * hidden``) are counted but never pruned.
    """

    layers: int
    hidden: int
    intermediate: int
    heads: int

    @property
    def head_size(self) -> int:
        return self.hidden // self.heads

    @property
    def matrices(self) -> tuple[tuple[int, int], ...]:
        """``(numel, how many)`` of the pruned weight matrices, by size."""
        return ((self.hidden * self.hidden, 4 * self.layers),
                (self.hidden * self.intermediate, 2 * self.layers))

    @property
    def weights(self) -> int:
        return sum(numel * count for numel, count in self.matrices)

    @property
    def fixed(self) -> int:
        """Biases and LayerNorms: counted, never pruned."""
        return self.layers * (9 * self.hidden + self.intermediate)

    @property
    def total(self) -> int:
        return self.weights + self.fixed

    @property
    def params_per_head(self) -> int:
        """What removing one head frees: Q/K/V rows and biases, attention-output columns
        (SMP removes heads physically, :func:`trainables.smp.heads.prune_heads`)."""
        return 4 * self.hidden * self.head_size + 3 * self.head_size

    def sparsity(self, remaining: int) -> float:
        return 1.0 - remaining / self.total


def layout_from_config(config: object) -> ParamLayout:
    """A layout from a transformers config (or anything with the same attributes)."""
    get = config.get if isinstance(config, dict) else lambda key: getattr(config, key)
    return ParamLayout(layers=int(get("num_hidden_layers")), hidden=int(get("hidden_size")),
                       intermediate=int(get("intermediate_size")),
                       heads=int(get("num_attention_heads")))


def model_layout(model: str) -> ParamLayout:
    """The layout of model ``model`` (an alias, a folder or a hub id) from its config only.

    Raises:
        ValueError: the model's config cannot be found or lacks a BERT's sizes.
    """
    from trainables.model_source import resolve_model

    source = resolve_model(model)
    if source.kind == "tiny":
        from trainables.models import TINY_CONFIG  # the in-memory test model (torch)

        return layout_from_config(TINY_CONFIG)
    if source.kind == "path":
        path = Path(source.location) / "config.json"
    else:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(source.location, "config.json")
        if not isinstance(found, str):
            from transformers import AutoConfig  # may reach the hub; imports torch

            return layout_from_config(AutoConfig.from_pretrained(source.location))
        path = Path(found)
    try:
        return layout_from_config(json.loads(path.read_text()))
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"cannot read the encoder sizes of model {model!r} from {path}: "
                         f"{exc}") from None
