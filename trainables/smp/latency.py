"""SMP's pruned-vs-dense latency: the shared :mod:`trainables.latency` measurement.

Kept as a module so existing imports keep working; the measurement moved to
:mod:`trainables.latency` when every method's final row got ``latency_ms``,
``dense_latency_ms`` and ``speedup`` measured the same way.
"""

from __future__ import annotations

from trainables.latency import dense_twin
from trainables.latency import paired_latency_ms

__all__ = ["dense_twin", "paired_latency_ms"]
