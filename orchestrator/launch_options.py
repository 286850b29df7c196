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
import math
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


#: Optuna's and numpy's seeds are unsigned 32-bit integers: a larger --seed was accepted and
#: only failed inside the sampler, after experiment.json had taken the name.
SEED_MAX = 2**32 - 1


def check_finite(flag: str, value: float | None) -> None:
    """One rule for every float option: NaN and infinity are refused by name.

    Every range check below compares with ``<`` or ``>``, and NaN passes all of them
    (``--gpus-per-trial nan`` left trials PENDING forever; ``--time-budget nan`` ran
    without a budget), so finiteness is checked first, for each float option.
    """
    if value is not None and not math.isfinite(value):
        raise UsageError(f"{flag} must be a finite number, but got {value}")


def check_seed(seed: int | None) -> None:
    if seed is not None and not 0 <= seed <= SEED_MAX:
        raise UsageError(f"--seed must be in [0, 2**32-1] (Optuna's and numpy's seed range), "
                         f"but got {seed}")


def check_num_cpus(num_cpus: int | None) -> None:
    """``--num-cpus`` of a locally started cluster (launch and resume): a cluster without a
    CPU runs nothing, and Ray raises a traceback for a negative count."""
    if num_cpus is not None and num_cpus < 1:
        raise UsageError(f"--num-cpus must be >= 1, but got {num_cpus}")


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
    seed: int | None = None  # of the Optuna sampler
    num_cpus: int | None = None  # of a locally started cluster

    def __post_init__(self) -> None:
        for flag, value in (("--cpus-per-trial", self.cpus_per_trial),
                            ("--gpus-per-trial", self.gpus_per_trial),
                            ("--min-sparsity", self.min_sparsity),
                            ("--time-budget", self.time_budget_s)):
            check_finite(flag, value)
        check_seed(self.seed)
        check_num_cpus(self.num_cpus)
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
        from orchestrator.storage import check_path_options

        check_path_options(args)  # empty paths, URIs where only folders work (security)
        return cls(num_samples=args.num_samples, concurrency=args.concurrency,
                   max_failures=args.max_failures, cpus_per_trial=args.cpus_per_trial,
                   gpus_per_trial=args.gpus_per_trial, sampler=args.sampler,
                   min_sparsity=args.min_sparsity, time_budget_s=args.time_budget,
                   log_to=log_targets(getattr(args, "log_to", None)),
                   seed=getattr(args, "seed", None), num_cpus=getattr(args, "num_cpus", None))
