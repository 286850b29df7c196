"""The reporter interface between a trainable and whoever runs it.

A trainable calls ``report(metrics, checkpoint_dir=...)`` after every evaluation. The
directory holds everything needed to resume; once ``report`` returns, the trainable may delete
it (the Ray adapter has uploaded it; the recorder below has copied it).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol


class Reporter(Protocol):
    def __call__(
        self, metrics: Mapping[str, Any], checkpoint_dir: Path | None = None
    ) -> None: ...


class RecordingReporter:
    """Keeps every report and a copy of every checkpoint; for tests and scripts.

    Example:
        >>> rec = RecordingReporter()
        >>> rec({"score": 0.5})
        >>> rec.metrics[-1]["score"]
        0.5
    """

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root else Path(tempfile.mkdtemp(prefix="reports-"))
        self.metrics: list[dict[str, Any]] = []
        self.checkpoints: list[Path | None] = []

    def __call__(self, metrics: Mapping[str, Any], checkpoint_dir: Path | None = None) -> None:
        self.metrics.append(dict(metrics))
        copy = None
        if checkpoint_dir is not None:
            copy = self.root / f"checkpoint_{len(self.metrics):06d}"
            shutil.copytree(checkpoint_dir, copy)
        self.checkpoints.append(copy)

    @property
    def last_checkpoint(self) -> Path | None:
        return next((c for c in reversed(self.checkpoints) if c is not None), None)
