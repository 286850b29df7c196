"""Errors the CLI turns into one line and a non-zero exit code."""

from __future__ import annotations


class OrchestratorError(Exception):
    """A domain error: printed as ``error: <message>``, exit code 1."""

    exit_code = 1


class UsageError(OrchestratorError):
    """Bad input from the user: printed as ``error: <message>``, exit code 2."""

    exit_code = 2
