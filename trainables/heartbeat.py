"""A progress line from inside a training loop, at most every few seconds.

Trials report to the sweep only when they evaluate, which for a dense fine-tune (or a
teacher built inside a CAP trial) can be minutes apart. This prints
``dense step 120/500 (24%), loss 0.4312, 3.2 steps/s, next evaluation at step 150`` to stdout,
which Ray forwards to the driver's console under the trial's name. Plain stdout: trainables
do not import Ray. :func:`tagged` gives a module its one-off progress lines the same way
(``[cap] building the teacher ...``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

#: Seconds between two lines (``PRUNESWEEP_PROGRESS_S``; 0 prints after every step).
DEFAULT_EVERY_S = 30.0


def every_s() -> float:
    try:
        return max(0.0, float(os.environ.get("PRUNESWEEP_PROGRESS_S", DEFAULT_EVERY_S)))
    except ValueError:
        return DEFAULT_EVERY_S


def tagged(tag: str) -> Callable[[str], None]:
    """``log(message)`` printing ``[tag] message`` to stdout, flushed (Ray shows a trial's
    stdout in the driver's log).

    Example:
        >>> tagged("cap")("teacher built")
        [cap] teacher built
    """
    def log(message: str) -> None:
        print(f"[{tag}] {message}", flush=True)

    return log


class Heartbeat:
    """Call :meth:`step` after every optimizer step; it prints when the interval has passed."""

    def __init__(self, label: str, total: int, eval_every: int,
                 interval_s: float | None = None, clock: Callable[[], float] = time.monotonic,
                 emit: Callable[[str], None] | None = None) -> None:
        self.label, self.total, self.eval_every = label, total, eval_every
        self.interval_s = every_s() if interval_s is None else interval_s
        self.clock = clock
        self.emit = emit or (lambda line: print(line, flush=True))
        self._last = self._start = clock()
        self._first_step: int | None = None

    def step(self, step: int, loss: Callable[[], float]) -> bool:
        """Print a line if due (``loss`` is only evaluated then); True when printed."""
        now = self.clock()
        if self._first_step is None:
            self._first_step, self._start = step - 1, self._last
        if now - self._last < self.interval_s or step >= self.total:
            return False
        self._last = now
        rate = (step - self._first_step) / max(now - self._start, 1e-9)
        next_eval = min(self.total, (step // self.eval_every + 1) * self.eval_every)
        self.emit(f"{self.label} step {step}/{self.total} ({100 * step / self.total:.0f}%), "
                  f"loss {loss():.4f}, {rate:.1f} steps/s, next evaluation at step {next_eval}")
        return True
