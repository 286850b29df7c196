"""``launch``'s command-line options, validated in one place before anything else happens.

:class:`LaunchOptions` is built from the parsed arguments and checks every option that
needs nothing but itself (counts, ranges, names) in ``__post_init__``: one line naming the
value and the rule, exit code 2, before a space is looked up, a file is read or a cluster
starts. What needs more than the options is checked where that is known, each rule once:
the sampler against the space's constraints (:func:`check_sampler`, also called by
:func:`orchestrator.search.make_sampler`),
the settings against the trainable (:mod:`orchestrator.settings`), model and data
(:mod:`orchestrator.preflight`), resources against the cluster (``launch.plan_resources``).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from orchestrator.errors import UsageError
from orchestrator.monitoring import did_you_mean, log_targets
from search_spaces.space import SAMPLER_NAMES

#: Optuna samplers ``--sampler`` accepts (``orchestrator.search.make_sampler`` builds them).
SAMPLERS = SAMPLER_NAMES


def check_sampler(name: str, constrained: bool = False) -> None:
    """``name`` is a sampler, and one that respects constraints when there are some."""
    if name not in SAMPLERS:
        raise UsageError(f"--sampler {name!r} is not one of {', '.join(SAMPLERS)}"
                         + did_you_mean(name, SAMPLERS))
    if constrained and name in ("random", "qmc"):
        # Neither reads a trial's constraint values: infeasible points would be proposed
        # as often as feasible ones.
        raise UsageError(f"the {name} sampler ignores constraints; use tpe, nsga2, nsga3 or gp")


@dataclass(frozen=True)
class LaunchOptions:
    """The options of one ``launch`` that shape the sweep rather than the trials' settings."""

    num_samples: int | None = None  # None: the profile's
    concurrency: int | None = None  # None: what the cluster fits
    max_failures: int = 0
    cpus_per_trial: float = 1.0
    gpus_per_trial: float | None = None  # None: 1 when the cluster has GPUs, else 0
    sampler: str | None = None  # None: the space's measured default (SearchSpace.default_sampler)
    min_sparsity: float | None = None
    time_budget_s: float | None = None
    log_to: tuple[str, ...] = ("tensorboard",)

    def __post_init__(self) -> None:
        # 0 is refused, not read as "the default".
        if self.num_samples is not None and self.num_samples < 1:
            raise UsageError(f"--num-samples must be >= 1, but got {self.num_samples}")
        if self.concurrency is not None and self.concurrency < 1:
            raise UsageError(f"--concurrency must be >= 1, but got {self.concurrency}")
        if self.max_failures < -1:
            raise UsageError(f"--max-failures must be >= -1 (-1: retry forever), but got "
                             f"{self.max_failures}")
        if self.cpus_per_trial <= 0:
            raise UsageError(f"--cpus-per-trial must be > 0, but got {self.cpus_per_trial}")
        if self.gpus_per_trial is not None and self.gpus_per_trial < 0:
            raise UsageError(f"--gpus-per-trial must be >= 0, but got {self.gpus_per_trial}")
        if self.sampler is not None:
            check_sampler(self.sampler)
        if self.min_sparsity is not None and not 0 <= self.min_sparsity < 1:
            raise UsageError(f"--min-sparsity must be in [0, 1), but got {self.min_sparsity}")
        if self.time_budget_s is not None and self.time_budget_s <= 0:
            raise UsageError(f"--time-budget must be > 0 seconds, but got {self.time_budget_s}")

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> LaunchOptions:
        """The options of a parsed ``launch`` command line (``--log-to`` checked here too)."""
        return cls(num_samples=args.num_samples, concurrency=args.concurrency,
                   max_failures=args.max_failures, cpus_per_trial=args.cpus_per_trial,
                   gpus_per_trial=args.gpus_per_trial, sampler=args.sampler,
                   min_sparsity=args.min_sparsity, time_budget_s=args.time_budget,
                   log_to=log_targets(getattr(args, "log_to", None)))
