"""Masked encoder linears for CAP (methods.md 2.2, 2.10 and 5.2).

One :class:`PruningState` per model holds the pruning method and the current threshold; every
:class:`MaskedLinear` keeps a reference to it, so the trainer changes one number per step and
no forward signature of transformers' BERT has to carry it (the original threaded the
threshold through every sub-module, which 5.x forwards do not allow; pitfall 29).

Example:
    >>> from trainables.models import load_classifier
    >>> model = load_classifier("tiny", 2)
    >>> state = PruningState("topk", threshold=1.0)
    >>> model = wrap_bert(model, state)                           # after loading (pitfall 27)
    >>> state.threshold = 0.1                                     # keep 10% of each matrix
    >>> model = bake_masks(model)                                 # a stock BERT again
    >>> type(model.bert.encoder.layer[0].attention.self.query).__name__
    'Linear'
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainables.cap.binarizers import SigmoidThresholdBinarizer
from trainables.cap.binarizers import TopKBinarizer
from trainables.cap.binarizers import check_keep_ratio
from trainables.cap.binarizers import check_sigmoid_threshold
from trainables.models import LINEAR_ROLES
from trainables.models import bert_of
from trainables.models import encoder_layers
from trainables.models import get_submodule
from trainables.models import set_submodule

# CAP-m (`topK` in the original) and CAP-soft (`sigmoied_threshold`).
METHODS = ("topk", "soft")
_CHECKS = {"topk": check_keep_ratio, "soft": check_sigmoid_threshold}
_BINARIZERS = {"topk": TopKBinarizer, "soft": SigmoidThresholdBinarizer}
# Where each method starts: keep everything (methods.md 2.4, 2.11).
_DEFAULT_THRESHOLD = {"topk": 1.0, "soft": 0.0}


class PruningState:
    """The pruning method and the current threshold, shared by every masked linear.

    ``threshold`` means a keep ratio in (0, 1] for ``"topk"`` and a sigmoid threshold in
    [0, 1) for ``"soft"`` (pitfall 21); it is validated on every assignment.

    ``offset`` (soft only, 0 unless a trial lands on a target:
    :func:`trainables.cap.lambda_control.landing_offset`) is added to every score before the
    sigmoid threshold, which moves the cut between two scores without touching the sigmoid's
    saturated ends (scores past ~17 all round to sigmoid 1.0 in float32).

    Args:
        method: ``"topk"`` (CAP-m) or ``"soft"`` (CAP-soft).
        threshold: the starting threshold; defaults to 1.0 (topk) or 0.0 (soft).
    """

    __slots__ = ("_method", "_threshold", "offset")

    def __init__(self, method: str = "topk", threshold: float | None = None) -> None:
        if method not in METHODS:
            raise ValueError(f"`method` must be one of {METHODS}, but got {method=!r}")
        self._method = method
        self.threshold = _DEFAULT_THRESHOLD[method] if threshold is None else threshold
        self.offset = 0.0

    @property
    def method(self) -> str:
        return self._method

    @property
    def threshold(self) -> float:
        return self._threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        self._threshold = _CHECKS[self._method](value)

    def binarize(self, scores: torch.Tensor) -> torch.Tensor:
        """The 0/1 mask of ``scores`` at the current threshold (straight-through autograd)."""
        if self.offset:  # a constant shift: the straight-through gradient is the same
            scores = scores + self.offset
        return _BINARIZERS[self._method].apply(scores, self._threshold)

    def __repr__(self) -> str:
        offset = f", offset={self.offset}" if self.offset else ""
        return f"PruningState(method={self._method!r}, threshold={self._threshold}{offset})"


class MaskedLinear(nn.Linear):
    """``nn.Linear`` whose weight is multiplied by a mask computed from ``mask_scores``.

    Build one with :meth:`from_linear`. With gradients on, every forward recomputes the mask
    (the scores change every step). Without gradients (evaluation, bank encoding) the masked
    weight is cached until the scores, the weight or the state change, so a whole evaluation
    pass pays for one mask per matrix.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        state: PruningState,
        bias: bool = True,
        mask_init: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(in_features, out_features, bias=bias, device=device, dtype=dtype)
        self.state = state
        self.mask_scores = nn.Parameter(torch.full_like(self.weight, float(mask_init)))
        self._cache: torch.Tensor | None = None
        self._cache_key: tuple | None = None

    @classmethod
    def from_linear(
        cls, linear: nn.Linear, state: PruningState, mask_init: float = 0.0
    ) -> MaskedLinear:
        """A masked copy of ``linear`` that shares its weight and bias (no copy of either)."""
        if linear.weight.is_meta:
            raise ValueError("cannot mask a linear on the meta device; wrap after loading")
        # Built on the meta device so no throw-away random weight is allocated.
        new = cls(
            linear.in_features,
            linear.out_features,
            state,
            bias=linear.bias is not None,
            device="meta",
        )
        new.weight = linear.weight
        new.bias = linear.bias
        # Set explicitly from the constant: transformers 5 would never initialise it (pitfall 27).
        new.mask_scores = nn.Parameter(torch.full_like(linear.weight.detach(), float(mask_init)))
        return new

    def mask(self) -> torch.Tensor:
        """The current 0/1 mask, differentiable (straight-through) w.r.t. ``mask_scores``."""
        return self.state.binarize(self.mask_scores)

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled():
            self._cache = self._cache_key = None  # free it: training changes scores every step
            return F.linear(inputs, self.weight * self.mask(), self.bias)
        return F.linear(inputs, self._masked_weight_no_grad(), self.bias)

    def _masked_weight_no_grad(self) -> torch.Tensor:
        key = (
            self.state.method,
            self.state.threshold,
            self.state.offset,
            self.mask_scores._version,
            self.mask_scores.data_ptr(),
            self.weight._version,
            self.weight.data_ptr(),
        )
        if self._cache is None or key != self._cache_key:
            self._cache = self.weight * self.mask()
            self._cache_key = key
        return self._cache

    def to_linear(self) -> nn.Linear:
        """A plain ``nn.Linear`` with the pruned weights set to zero (methods.md 2.10)."""
        with torch.no_grad():
            weight = self.weight * self.mask()
        plain = nn.Linear(
            self.in_features,
            self.out_features,
            bias=self.bias is not None,
            device="meta",
            dtype=self.weight.dtype,
        )
        plain.weight = nn.Parameter(weight, requires_grad=self.weight.requires_grad)
        plain.bias = self.bias
        return plain

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, method={self.state.method}"


def wrap_bert(model: nn.Module, state: PruningState, mask_init: float = 0.0) -> nn.Module:
    """Mask the six encoder linears of every layer and freeze the embeddings, in place.

    Call it after ``from_pretrained`` (pitfall 27). The pooler and the classifier stay dense;
    biases and LayerNorms are never masked (methods.md 2.2).

    Args:
        model: a loaded ``BertForSequenceClassification`` (or any model with ``.bert``).
        state: the shared pruning state.
        mask_init: the constant every score starts at (``--mask_scale 0.0`` in the scripts).

    Returns:
        The same model, for chaining.

    Example:
        >>> from trainables.models import load_classifier
        >>> model = wrap_bert(load_classifier("tiny", 2), PruningState("soft"))
        >>> len(masked_linears(model))                            # 6 per layer, 4 layers
        24
    """
    if not isinstance(state, PruningState):
        raise TypeError(f"`state` must be a PruningState, but got {type(state).__name__}")
    for layer in encoder_layers(model):
        for path in LINEAR_ROLES.values():
            linear = get_submodule(layer, path)
            if isinstance(linear, MaskedLinear):  # a state error, not a type error
                message = f"model is already wrapped ({path} is a MaskedLinear)"
                raise ValueError(message)  # noqa: TRY004
            set_submodule(layer, path, MaskedLinear.from_linear(linear, state, mask_init))
    bert_of(model).embeddings.requires_grad_(False)
    return model


def masked_linears(model: nn.Module) -> list[MaskedLinear]:
    """The model's masked linears, in encoder order (layer, then ``LINEAR_ROLES`` order)."""
    found = []
    for layer in encoder_layers(model):
        for path in LINEAR_ROLES.values():
            module = get_submodule(layer, path)
            if isinstance(module, MaskedLinear):
                found.append(module)
    return found


def bake_masks(model: nn.Module) -> nn.Module:
    """Zero the pruned weights and restore plain ``nn.Linear`` modules, in place (bertarize).

    The masks come from each module's state at its *current* threshold: set
    ``state.threshold`` to the final threshold first. The result is a stock BERT model whose
    ``save_pretrained`` writes no ``mask_scores``.

    Example:
        >>> state.threshold = final_threshold                     # doctest: +SKIP
        >>> bake_masks(model).save_pretrained(folder)             # doctest: +SKIP
    """
    for layer in encoder_layers(model):
        for path in LINEAR_ROLES.values():
            module = get_submodule(layer, path)
            if isinstance(module, MaskedLinear):
                set_submodule(layer, path, module.to_linear())
    return model
