"""The one error type the analysis raises for bad input (besides :class:`SchemaError`).

The CLI turns both into one ``error: ...`` line and exit code 2.
"""

from __future__ import annotations


class AnalysisError(ValueError):
    """Input the analysis cannot work with: a missing folder, no rows, an unknown column."""
