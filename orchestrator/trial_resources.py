"""Per-trial resources and process reuse, checked against the cluster (launch and confirm)."""

from __future__ import annotations

import math

from orchestrator.errors import UsageError
from orchestrator.launch_options import LaunchOptions
from orchestrator.sweep import Resources


def plan_resources(options: LaunchOptions, cluster_resources: dict[str, float],
                   num_samples: int) -> tuple[Resources, int]:
    """Per-trial resources and concurrency, checked against what the cluster has."""
    cpus, gpus_total = cluster_resources.get("CPU", 0.0), cluster_resources.get("GPU", 0.0)
    gpus = options.gpus_per_trial if options.gpus_per_trial is not None else \
        (1.0 if gpus_total >= 1 else 0.0)
    if options.cpus_per_trial > cpus:
        raise UsageError(f"a trial asks for {options.cpus_per_trial} CPUs but the cluster has "
                         f"{cpus:g}; lower --cpus-per-trial")
    if gpus > gpus_total:
        raise UsageError(f"a trial asks for {gpus:g} GPUs but the cluster has {gpus_total:g}; "
                         "use --gpus-per-trial 0 or join a cluster with GPUs (--address)")
    fits = math.floor(cpus / options.cpus_per_trial)
    if gpus > 0:
        fits = min(fits, math.floor(gpus_total / gpus))
    concurrency = options.concurrency or max(1, min(fits, num_samples))
    return Resources(options.cpus_per_trial, gpus), concurrency


def default_reuse(asked: bool | None, resources: Resources, dashboard_url: str | None) -> bool:
    """Whether trials reuse a finished trial's process (``--reuse-actors`` decides if given).

    Reuse saves a trial's process start and imports (about 1.7 s a trial on a CPU), but Ray
    names an actor once, when it is created: the dashboard would list a reused process
    under one name for all its trials. So reuse is the default only where nobody watches a
    dashboard (``--no-dashboard``) and only on CPUs (CUDA memory of a finished trial is not
    always given back).
    """
    if asked is not None:
        return asked
    return resources.gpus_per_trial == 0 and not dashboard_url
