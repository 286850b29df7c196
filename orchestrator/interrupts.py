"""Whether the sweep was interrupted (Ctrl-C, SIGINT to the process group, SIGUSR1).

Ray Tune catches the first SIGINT itself: it saves its state with the running trials still
RUNNING, then stops them, which marks them TERMINATED in memory, calls ``on_experiment_end``
and returns from ``fit()`` as if the sweep had ended. Without knowing about the interrupt the
results writer would close those trials with final ``pruned`` rows and the driver would say
"finished". :func:`watch` wraps Tune's handler (it is called from a callback's ``setup``,
after Tune installed it) so that the first signal is also recorded here; Tune's handler
still runs, and it still restores the previous handler for a second Ctrl-C.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

_INTERRUPTED = threading.Event()
_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGUSR1") if hasattr(signal, name))


def interrupted() -> bool:
    """True once this process received SIGINT/SIGUSR1 during a sweep."""
    return _INTERRUPTED.is_set()


def watch() -> None:
    """Record the next SIGINT/SIGUSR1 (then let the installed handler do its work)."""
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread
    for sig in _SIGNALS:
        current = signal.getsignal(sig)
        if getattr(current, "_prunesweep_watch", False):
            continue
        signal.signal(sig, _recording(current))


def _recording(previous: Any) -> Any:
    def handler(sig: int, frame: Any) -> None:
        _INTERRUPTED.set()
        if callable(previous):
            previous(sig, frame)
        elif previous == signal.SIG_DFL and sig == signal.SIGINT:
            raise KeyboardInterrupt

    handler._prunesweep_watch = True  # type: ignore[attr-defined]
    return handler
