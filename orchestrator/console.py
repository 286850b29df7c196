"""The driver's console: one-line errors, a full disk recognised, Ray's log forwarding.

Imported by the CLI before anything heavy (no Ray, no pandas): :func:`plain_console` must
run before Ray is imported.
"""

from __future__ import annotations

import errno
import os
import sys

#: Lines our trials print that Ray's log deduplication must never merge across processes:
#: two trials' progress lines differ only in numbers, which Ray's dedup ignores, so without
#: this only the first trial's line would show ("[repeated 2x across cluster]").
TRIAL_LINES = r"^(trial \S+ started$|\S+ step \d+/\d+ \()"


def plain_console(stream=None) -> None:
    """Console settings for Ray's log forwarding, set before Ray is imported.

    Our trial lines are never deduplicated (:data:`TRIAL_LINES`); when stdout is not a
    terminal (a log file) Ray's prefixes get no ANSI colour codes, and its deduplication,
    whose "[repeated Nx]" note is always coloured, is off.
    """
    os.environ.setdefault("RAY_DEDUP_LOGS_ALLOW_REGEX", TRIAL_LINES)
    isatty = getattr(stream or sys.stdout, "isatty", None)
    if not (isatty and isatty()):
        os.environ.setdefault("RAY_COLOR_PREFIX", "0")
        os.environ.setdefault("RAY_DEDUP_LOGS", "0")


def one_line(message: str) -> str:
    """Errors are one line (scripts grep them); fold any listing a message carries."""
    return " ".join(part.strip() for part in message.splitlines() if part.strip())


def disk_full(exc: BaseException) -> str:
    """The "no space" message anywhere in ``exc``'s chain (Tune wraps it), else ""."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return f"{exc.strerror or 'no space left'}: {exc.filename or ''}".rstrip(": ")
        for marker in ("No space left on device", "Disk quota exceeded"):
            if marker in str(exc):
                return marker
        exc = exc.__cause__ or exc.__context__
    return ""
