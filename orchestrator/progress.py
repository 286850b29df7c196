"""What the console shows while a sweep runs: one line per report and per finished trial.

Every result a trial reports prints a line naming the trial as the log prefixes and ``status``
do (``<space>_<trial_id>``), its step out of its total, its current score and sparsity, and
the sweep's counts with an estimate of the time left::

    [1/4 done, 2 running] cap_soft_qqp_3f2a9c01 step 120/500 score 0.7120 sparsity 0.4500, ETA 0:03:10
    [2/4] trial cap_soft_qqp_3f2a9c01 done: score=0.7311 weight_sparsity=0.47 (final_lambda=100) 95s

Plain text only (no colour codes), so a redirected log stays readable; Ray's own coloured
log prefixes are turned off too when stdout is not a terminal
(:func:`orchestrator.console.plain_console`).
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ray.tune import Callback

from facts import columns as C
from orchestrator.results import error_status


@dataclass
class TrialProgress:
    """The latest report of one running trial."""

    started: float  # time.monotonic() when the driver first heard of it
    step: int | None = None
    total: int | None = None
    elapsed_s: float | None = None

    def seconds_left(self) -> float | None:
        """Time to finish at the trial's own pace so far (None before its first step)."""
        if not self.step or not self.total or self.elapsed_s is None:
            return None
        return max(0.0, self.elapsed_s * (self.total - self.step) / self.step)

    def projected_total_s(self) -> float | None:
        left = self.seconds_left()
        return None if left is None else (self.elapsed_s or 0.0) + left


@dataclass
class SweepClock:
    """Counts and durations behind the ETA; pure bookkeeping, no Ray."""

    num_samples: int
    concurrency: int
    running: dict[str, TrialProgress] = field(default_factory=dict)
    finished: dict[str, float] = field(default_factory=dict)  # trial id -> its seconds

    def eta_s(self) -> float | None:
        """Seconds until the sweep ends, or None while nothing says how long a trial takes.

        A running trial needs its own remaining time; a trial not started yet needs a mean
        trial (the finished ones', else the running ones' projections), run
        ``concurrency`` at a time.
        """
        lefts = [p.seconds_left() for p in self.running.values()]
        known = [x for x in lefts if x is not None]
        durations = list(self.finished.values()) or \
            [p.projected_total_s() for p in self.running.values()
             if p.projected_total_s() is not None]
        if not durations and not known:
            return None
        mean = sum(durations) / len(durations) if durations else max(known)
        waiting = max(0, self.num_samples - len(self.finished) - len(self.running))
        unknown_running = len(lefts) - len(known)
        work = sum(known) + (waiting + unknown_running) * mean
        slots = max(1, self.concurrency)
        return max(max(known, default=0.0), work / slots) if work else 0.0

    def counts(self) -> str:
        return (f"{len(self.finished)}/{self.num_samples} done, "
                f"{len(self.running)} running")


def clock(seconds: float) -> str:
    seconds = int(max(0, round(seconds)))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def live_line(name: str, result: Mapping[str, Any], sweep: SweepClock) -> str:
    """``[1/4 done, 2 running] <name> step 120/500 score 0.7120 sparsity 0.4500, ETA ...``."""
    parts = [f"[{sweep.counts()}] {name}"]
    step, total = result.get(C.STEP), result.get(C.TOTAL_STEPS)
    if _number(step):
        parts.append(f"step {int(step)}/{int(total)}" if _number(total) else f"step {int(step)}")
    for label, key in (("score", C.SCORE), ("sparsity", C.WEIGHT_SPARSITY)):
        if _number(result.get(key)):
            parts.append(f"{label} {result[key]:.4f}")
    eta = sweep.eta_s()
    return " ".join(parts) + (f", ETA {clock(eta)}" if eta is not None else "")


def finished_line(index: int, num_samples: int, name: str, what: str,
                  result: Mapping[str, Any], objectives: Sequence[str],
                  params: Mapping[str, Any], seconds: float, eta: float | None,
                  reason: str = "") -> str:
    """``[2/4] trial <name> done: score=0.7311 weight_sparsity=0.47 (lr=3e-05) 95s``.

    The parenthesis lists the searched values; it is left out when nothing is searched.
    ``reason`` (a failed trial's error) follows them, so a trial that failed before its
    first report never prints an empty ``failed:``.
    """
    values = " ".join(f"{m}={result[m]:.4g}" for m in objectives if _number(result.get(m)))
    searched = ", ".join(f"{k}={_short(v)}" for k, v in params.items())
    line = f"[{index}/{num_samples}] trial {name} {what}:"
    line += f" {values}" if values else ""
    line += f" ({searched})" if searched else ""
    line += f" {reason}" if reason else ""
    line += f" {seconds:.0f}s"
    if eta is not None and index < num_samples:
        line += f", ETA {clock(eta)}"
    return line


class ConsoleProgress(Callback):
    """A live line per report of each running trial and a line per finished trial."""

    def __init__(self, space: str, searched: Sequence[str], objectives: Sequence[str],
                 num_samples: int, concurrency: int, quiet: bool = False) -> None:
        self.space = space
        self.searched = list(searched)
        self.objectives = list(objectives)
        self.quiet = quiet
        self.sweep = SweepClock(num_samples, concurrency)

    def __getstate__(self) -> dict[str, Any]:
        # Tune pickles its callbacks with its state; the start times of running trials are
        # this process's monotonic clock, meaningless after a `resume` (those trials start
        # again and are tracked anew). Finished trials' durations stay for the ETA.
        state = dict(self.__dict__)
        state["sweep"] = SweepClock(self.sweep.num_samples, self.sweep.concurrency,
                                    finished=dict(self.sweep.finished))
        return state

    def name(self, trial: Any) -> str:
        return f"{self.space}_{trial.trial_id}"

    def _tracked(self, trial: Any) -> TrialProgress:
        return self.sweep.running.setdefault(trial.trial_id, TrialProgress(time.monotonic()))

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._tracked(trial)

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict,
                        **info: Any) -> None:
        progress = self._tracked(trial)
        progress.step = result.get(C.STEP) if _number(result.get(C.STEP)) else None
        progress.total = result.get(C.TOTAL_STEPS) if _number(result.get(C.TOTAL_STEPS)) \
            else None
        elapsed = result.get(C.ELAPSED_S)
        progress.elapsed_s = elapsed if _number(elapsed) else \
            time.monotonic() - progress.started
        if not self.quiet and not result.get(C.IS_FINAL):
            print(live_line(self.name(trial), result, self.sweep), flush=True)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        last = trial.last_result or {}
        self._finished(trial, "done" if last.get(C.IS_FINAL) else "stopped")

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        error = str(getattr(trial, "error_message", "") or "")
        self._finished(trial, error_status(error), reason=last_line(error))

    def _finished(self, trial: Any, what: str, reason: str = "") -> None:
        progress = self.sweep.running.pop(trial.trial_id, None)
        last = trial.last_result or {}
        # Wall time as the driver saw it (process start and imports included: what the ETA
        # has to plan for); Tune's time_total_s when the driver did not see the start.
        seconds = time.monotonic() - progress.started if progress else \
            (last.get("time_total_s") or 0.0)
        self.sweep.finished[trial.trial_id] = float(seconds)
        if self.quiet:
            return
        params = {p: trial.config.get(p) for p in self.searched}
        print(finished_line(len(self.sweep.finished), self.sweep.num_samples, self.name(trial),
                            what, last, self.objectives, params, float(seconds),
                            self.sweep.eta_s(), reason), file=sys.stdout, flush=True)


def last_line(error: str | None, limit: int = 200) -> str:
    """The last non-empty line of a trial's error (the exception itself), trimmed."""
    lines = [line.strip() for line in (error or "").splitlines() if line.strip()]
    return lines[-1][:limit] if lines else ""
