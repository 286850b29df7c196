"""SMP's pruner: a DCGAN-discriminator CNN that scores one 128x128 attention map.

The network and its initialisation follow methods.md 1.2 (``SMP:pruner/pruner.py:6-49``).
:func:`load_pruner_checkpoint` reads the released ``checkpoints/base.bin`` /
``large.bin`` (legacy torch pickles of an ``OrderedDict`` of tensors) with
``weights_only=True`` (methods.md section 6: never unpickle arbitrary objects), as well as
the checkpoints :func:`trainables.smp.meta_train` writes.

Example:
    >>> cnn = HeadPrunerCNN(ndf=8)
    >>> cnn(torch.rand(3, 1, 128, 128)).shape
    torch.Size([3, 2])
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

MAP_SIZE = 128  # the conv stack reduces 128 -> 1; any other size breaks the last conv
DEFAULT_NDF = 8  # the released checkpoints' width (methods.md 1.2, section 6)
SAFETENSORS_NAME = "pruner.safetensors"  # the CNN weights inside a meta_train checkpoint


class PrunerCheckpointError(ValueError):
    """A pruner checkpoint cannot be read or does not fit :class:`HeadPrunerCNN`."""


class HeadPrunerCNN(nn.Module):
    """Six convolutions from a 1x128x128 attention map to two scores in (0, 2).

    Channel 0 is the score for sentence-pair tasks, channel 1 for single-sentence tasks
    (methods.md 1.2). The layers live in ``self.main`` so state-dict keys are
    ``main.0.weight`` ... ``main.14.weight``, exactly as in the released checkpoints.

    Args:
        ndf: width of the first convolution; later ones are 2x, 4x, 8x, 16x wider.
    """

    def __init__(self, ndf: int = DEFAULT_NDF) -> None:
        super().__init__()
        if not isinstance(ndf, int) or ndf < 1:
            raise ValueError(f"`ndf` must be a positive int, but got {ndf=!r}.")
        self.ndf = ndf
        layers: list[nn.Module] = [
            nn.Conv2d(1, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        for mult in (1, 2, 4, 8):  # 64 -> 32 -> 16 -> 8 -> 4
            layers += [
                nn.Conv2d(ndf * mult, ndf * mult * 2, 4, 2, 1, bias=False),
                nn.BatchNorm2d(ndf * mult * 2),
                nn.LeakyReLU(0.2, inplace=True),
            ]
        layers += [nn.Conv2d(ndf * 16, 2, 4, 1, 0, bias=False), nn.Sigmoid()]  # 4 -> 1
        self.main = nn.Sequential(*layers)
        self.reset_parameters()

    def reset_parameters(self, generator: torch.Generator | None = None) -> None:
        """The original init: conv ~ N(0, 0.01), BN weight ~ N(1, 0.01), BN bias 0."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.normal_(module.weight, 0.0, 0.01, generator=generator)
            elif isinstance(module, nn.BatchNorm2d):
                nn.init.normal_(module.weight, 1.0, 0.01, generator=generator)
                nn.init.zeros_(module.bias)

    def forward(self, maps: torch.Tensor) -> torch.Tensor:
        """Score maps ``[N, 1, 128, 128]`` -> ``[N, 2]`` in (0, 2)."""
        if maps.dim() != 4 or tuple(maps.shape[1:]) != (1, MAP_SIZE, MAP_SIZE):
            raise ValueError(
                f"the pruner CNN takes maps of shape [N, 1, {MAP_SIZE}, {MAP_SIZE}] (inputs "
                f"padded to exactly {MAP_SIZE} tokens), but got {list(maps.shape)}"
            )
        # as the original's squeeze(-1).squeeze(-1): only the 1x1 spatial dims go, N stays
        # (also when N == 1)
        return self.main(maps).reshape(maps.shape[0], 2) * 2


def _read_state(path: Path) -> Mapping[str, torch.Tensor]:
    if path.is_dir():  # a meta_train checkpoint folder
        path = path / SAFETENSORS_NAME
    if not path.is_file():
        raise PrunerCheckpointError(f"pruner checkpoint {path} does not exist")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path), device="cpu")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise PrunerCheckpointError(
            f"{path} holds objects other than tensors and containers, which are refused "
            f"(torch.load weights_only=True): {exc}"
        ) from exc
    except (RuntimeError, EOFError, OSError) as exc:
        raise PrunerCheckpointError(f"{path} is not a readable torch checkpoint: {exc}") from exc


def normalise_state_dict(state: object) -> dict[str, torch.Tensor]:
    """Bring the accepted checkpoint layouts to :class:`HeadPrunerCNN` keys.

    Accepted: the CNN's own state dict (``main.<i>.*``, the released files); the same
    under a ``state_dict`` or ``model`` entry; keys prefixed ``module.`` (DataParallel);
    the original training wrapper's dict (``main.main.<i>.*`` next to ``plm.*``, whose
    PLM entries are dropped); and a bare ``nn.Sequential`` dict (``<i>.*``).
    """
    for wrapper in ("state_dict", "model"):
        if isinstance(state, Mapping) and wrapper in state and isinstance(state[wrapper], Mapping):
            state = state[wrapper]
    if not isinstance(state, Mapping) or not all(isinstance(k, str) for k in state):
        raise PrunerCheckpointError(
            f"a pruner checkpoint must be a dict of tensors, but got {type(state).__name__}"
        )
    items = {k.removeprefix("module."): v for k, v in state.items()}
    if any(k.startswith("main.main.") for k in items):
        items = {k[len("main."):]: v for k, v in items.items() if k.startswith("main.main.")}
    if items and all(k.split(".", 1)[0].isdigit() for k in items):
        items = {f"main.{k}": v for k, v in items.items()}
    return dict(items)


def check_state_dict(state: Mapping[str, torch.Tensor], cnn: HeadPrunerCNN) -> None:
    """Raise :class:`PrunerCheckpointError` naming every missing, extra or misshapen key."""
    expected = cnn.state_dict()
    problems = [f"missing key {k} (expected shape {list(v.shape)})"
                for k, v in expected.items() if k not in state]
    problems += [f"unexpected key {k}" for k in state if k not in expected]
    for key, want in expected.items():
        got = state.get(key)
        if got is None:
            continue
        if not isinstance(got, torch.Tensor):
            problems.append(f"{key} is a {type(got).__name__}, not a tensor")
        elif got.shape != want.shape:
            problems.append(f"{key}: expected shape {list(want.shape)}, found {list(got.shape)}")
    if problems:
        first = state.get("main.0.weight")
        hint = ""
        if isinstance(first, torch.Tensor) and first.dim() == 4:
            hint = f" (the checkpoint looks like ndf={first.shape[0]}, the CNN has ndf={cnn.ndf})"
        raise PrunerCheckpointError(
            f"pruner checkpoint does not fit HeadPrunerCNN(ndf={cnn.ndf}){hint}: "
            + "; ".join(problems)
        )


def load_pruner_checkpoint(path: str | Path, ndf: int = DEFAULT_NDF) -> HeadPrunerCNN:
    """A :class:`HeadPrunerCNN` with the weights of ``path``, in eval mode, on the CPU.

    ``path`` may be a released ``.bin`` (legacy or zip torch format), a torch or
    ``.safetensors`` file holding a state dict in one of the layouts
    :func:`normalise_state_dict` accepts, or a ``checkpoint-<step>`` folder written by
    :func:`trainables.smp.meta_train`.

    Raises:
        PrunerCheckpointError: unreadable file, non-tensor objects, or keys/shapes that do
            not fit ``HeadPrunerCNN(ndf)`` (the message names expected and found shapes).

    Example:
        >>> cnn = load_pruner_checkpoint("checkpoints/base.bin")  # doctest: +SKIP
    """
    cnn = HeadPrunerCNN(ndf)
    state = normalise_state_dict(_read_state(Path(path)))
    check_state_dict(state, cnn)
    cnn.load_state_dict(state, strict=True)
    return cnn.eval()
