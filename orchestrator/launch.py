"""``launch``: check everything cheap first, then start Ray and run the sweep.

Order matters for users: a typo in ``--set``, a missing data folder, an unavailable model or an
unwritable storage path must fail in a second with one line, before a cluster starts or an
experiment folder is created.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from facts import columns as C
from orchestrator.experiment import Experiment
from orchestrator.finish import finish
from orchestrator.launch_options import LaunchOptions, check_sampler
from orchestrator.preflight import preflight
from orchestrator.reconcile import reconcile, trial_ids
from orchestrator.settings import SweepSettings, build_settings, describe, space_named
from orchestrator.storage import artifacts_root, redact
from orchestrator.sweep import SweepPlan, run_sweep
# where they lived before `confirm` shared them; imported from here by tests and users
from orchestrator.trial_resources import default_reuse, plan_resources  # noqa: F401


def search_controls(args: argparse.Namespace, options: LaunchOptions, sweep: SweepSettings,
                    storage: Any) -> dict:
    """Constraints, time budget and warm-start trials, checked before Ray starts."""
    from orchestrator.warm_start import locate, warm_start_trials

    constraints = list(sweep.space.constraints)
    if options.min_sparsity is not None:
        constraints.append((C.WEIGHT_SPARSITY, ">=", options.min_sparsity))
    check_sampler(options.sampler, constrained=bool(constraints))
    warm = ()
    if args.warm_start:
        warm = tuple(warm_start_trials(locate(storage, args.warm_start), sweep.space,
                                       sweep.searched))
    return {"sampler": options.sampler, "constraints": tuple(constraints),
            "time_budget_s": options.time_budget_s,
            "early_stop": (sweep.space.default_early_stop if args.early_stop is None
                           else args.early_stop),
            "warm_start": warm}


def launch(args: argparse.Namespace) -> int:
    options = LaunchOptions.from_args(args)
    space = space_named(args.space)
    if options.sampler is None:  # the sampler measured best for this space (issue 16)
        options = dataclasses.replace(options, sampler=space.default_sampler)
    if getattr(args, "objectives", None):  # measured speed-up as an objective (issue 15)
        from orchestrator.objectives import with_objectives

        space = with_objectives(space, args.objectives)
    experiment = Experiment.new(args.storage,
                                args.name or Experiment.default_name(space.name, args.profile))
    sweep = build_settings(space, args.profile, sets=args.sets, model=args.model,
                           data_dir=args.data_dir,
                           storage_root=artifacts_root(experiment.storage, args.artifacts_dir),
                           aimed=bool(getattr(args, "targets", None)))
    if getattr(args, "objectives", None):
        from orchestrator.objectives import allow_final_only_metrics, check_measured

        check_measured(space, sweep.settings)
        allow_final_only_metrics(space.metrics)
    num_samples = options.num_samples or sweep.num_samples
    controls = search_controls(args, options, sweep, experiment.storage.text)
    from orchestrator.target_plan import launch_targets

    targets, target_warm = launch_targets(getattr(args, "targets", None), args.warm_start,
                                          sweep, experiment.storage.text)
    if target_warm is not None:  # the earlier trials in target coordinates
        controls["warm_start"] = target_warm
    preflight(sweep, local_cluster=args.address is None)
    from orchestrator import dense_reference

    dense = dense_reference.wanted(getattr(args, "dense_baseline", None), space.trainable,
                                   args.profile)

    from orchestrator.cluster import auth_hint, connect, shutdown_if_started
    from orchestrator.storage_check import alive_nodes, check_shared_storage

    cluster = connect(args.address, num_cpus=args.num_cpus,
                      include_dashboard=not args.no_dashboard,
                      dashboard_host=args.dashboard_host)
    try:
        resources, concurrency = plan_resources(options, cluster.resources, num_samples)
        reuse = default_reuse(args.reuse_actors, resources, cluster.dashboard_url)
        if experiment.storage.is_local:  # URIs (s3://, gs://, ...) are shared by nature
            check_shared_storage(Path(experiment.storage.root), alive_nodes(),
                                 allow_local=args.allow_local_storage)
        experiment.create({**describe(sweep), "num_samples": num_samples,
                           "concurrency": concurrency, "seed": args.seed,
                           "resources": vars(resources), "address": args.address,
                           "reuse_actors": reuse,
                           "sampler": options.sampler, "constraints": controls["constraints"],
                           "early_stop": controls["early_stop"],
                           "warm_start": args.warm_start,
                           "warm_start_trials": len(controls["warm_start"]),
                           "time_budget_s": options.time_budget_s,
                           "targets": list(targets.targets) if targets else None,
                           "dense_baseline_wanted": dense})
        from orchestrator import driver_lock

        driver_lock.acquire(experiment, "launch")  # held until exit: `resume` waits its turn
        _print_start(experiment, sweep, num_samples, concurrency, cluster, auth_hint(), reuse,
                     targets)
        if dense:
            dense_reference.build_and_record(experiment, sweep.settings, resources)
        plan = SweepPlan(experiment, sweep, num_samples, concurrency, resources,
                         seed=args.seed, max_failures=options.max_failures, quiet=args.quiet,
                         verbosity=args.tune_verbose, reuse_actors=reuse,
                         log_to=options.log_to, targets=targets, **controls)
        grid = run_sweep(plan)
        reconcile(experiment, trial_ids(grid, space.name))
        experiment.sync_journal_up()
    finally:
        shutdown_if_started(cluster)
        from orchestrator import driver_lock

        driver_lock.release(experiment)
    return finish(experiment, grid)


def _data_source(settings: dict[str, Any]) -> str | None:
    """Where the trials read their examples: a data folder says which layout was found in it
    (a GLUE root holds two), generated data says so; None for the hub (nothing to add)."""
    if settings.get("task") is None:  # the calibrate space trains nothing
        return None
    from trainables.tasks import get_task

    task = get_task(settings["task"])
    if settings.get("synthetic_data") or task.is_toy:
        return "generated examples shaped like the task (no --data-dir)"
    if settings.get("data_dir") is None:
        return None
    from trainables.glue_sources import describe_source

    return describe_source(task, settings["data_dir"])


def _print_start(experiment: Experiment, sweep: SweepSettings, num_samples: int,
                 concurrency: int, cluster: Any, hint: str, reuse: bool = False,
                 targets: Any = None) -> None:
    print(f"experiment {experiment.name}: {num_samples} trials of {sweep.space.name} "
          f"({sweep.profile} profile), {concurrency} at a time")
    print(f"  folder    {redact(experiment.uri)}")
    data = _data_source(sweep.settings)
    if data:
        print(f"  data      {data}")
    searched = [n for n in sweep.searched if targets is None or n != targets.knob]
    print(f"  searching {', '.join(searched) or '(nothing: every parameter is pinned)'}")
    if targets is not None:
        how = f"{targets.knob} is derived from each trial's target"
        if targets.method == "soft":
            how += (", steered in the run by the lambda controller, which lands on it"
                    if sweep.settings.get("lambda_control", True) else
                    " by the calibration alone (lambda_control=false)")
        print(f"  targets   {', '.join(f'{t:g}' for t in targets.targets)}: {how}")
    if cluster.dashboard_url:
        print(f"  dashboard http://{cluster.dashboard_url.removeprefix('http://')}  ({hint})")
        if reuse:
            print(f"  note      trial processes are reused: the dashboard lists them as "
                  f"{sweep.space.name}_worker; log lines and `status` name each trial "
                  "(--no-reuse-actors names them in the dashboard, ~2 s more per trial)")
