"""``confirm EXP``: re-run chosen trials of a finished experiment with K new seeds.

The confirmation is an experiment of its own (``EXP-confirm`` unless ``--name``), next to EXP
under the same storage root, that runs a fixed list of configurations
(:mod:`orchestrator.confirm_plan`, :class:`orchestrator.fixed_configs.FixedConfigSearch`)
through the launch machinery: the same trainable, results writer, progress lines, driver lock
and end of sweep, so it resumes like any sweep (``python -m orchestrator resume EXP-confirm``).
Both experiment.json files name the link: the confirmation's ``confirms`` (the experiment, the
selection, the trials and every run's seed), the source's ``confirmed_by``. The analysis finds
the confirmation next to EXP and shows each confirmed trial as the mean over its seeds with a
95% t-interval (:mod:`analysis.confirmed`).

An ``orchestrator`` command and not an ``analysis`` one: it runs trials, which needs the
trainables and Ray, and the analysis package imports no sibling package.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from typing import Any

from analysis.errors import redact
from orchestrator.experiment import Experiment
from orchestrator.launch_options import LaunchOptions

# experiment.json keys of the link; the analysis, which reads them, owns their names
from analysis.confirmed import CONFIRMED_BY_KEY, CONFIRMS_KEY  # noqa: E402


def selection_of(args: argparse.Namespace) -> tuple[str, Any]:
    """(selection, its value) from ``--front | --knee | --targets | --trials`` (front if none)."""
    if args.targets is not None:
        return "targets", args.targets
    if args.trials is not None:
        return "trials", args.trials
    return ("knee", None) if args.knee else ("front", None)


def confirm(args: argparse.Namespace) -> int:
    from orchestrator.confirm_plan import SUFFIX, check_seeds, plan_confirmation
    from orchestrator.results import read_rows
    from orchestrator.settings import space_named

    check_seeds(args.seeds)  # options that need nothing else first, as launch does
    source = Experiment.open(args.storage, args.experiment)
    record = source.load()
    recorded = record.get("resources") or {}
    options = LaunchOptions(concurrency=args.concurrency,
                            cpus_per_trial=(args.cpus_per_trial if args.cpus_per_trial
                                            is not None else
                                            float(recorded.get("cpus_per_trial", 1.0))),
                            gpus_per_trial=(args.gpus_per_trial if args.gpus_per_trial
                                            is not None else recorded.get("gpus_per_trial")),
                            num_cpus=args.num_cpus)
    name = args.confirm_name or f"{source.name}{SUFFIX}"
    args.name = name  # what a full disk's message tells the user to resume
    target = Experiment.new(args.storage, name)
    space = space_named(record["space"])
    if record.get("objectives"):  # launched with --objectives: keep what it optimised
        space = dataclasses.replace(space, objectives=tuple(tuple(o) for o in
                                                            record["objectives"]))
    selection, value = selection_of(args)
    plan = plan_confirmation(read_rows(source), record, space.suggestions(),
                             selection=selection, value=value, seeds=args.seeds,
                             full_eval=args.full_eval)
    settings = dict(record.get("settings") or {})
    if args.full_eval:
        settings["max_eval_examples"] = None
    return _run(args, source, target, record, space, settings, plan, options)


def _run(args: argparse.Namespace, source: Experiment, target: Experiment,
         record: dict[str, Any], space: Any, settings: dict[str, Any], plan: Any,
         options: LaunchOptions) -> int:
    from orchestrator import driver_lock
    from orchestrator.cluster import connect, shutdown_if_started
    from orchestrator.finish import finish
    from orchestrator.trial_resources import default_reuse, plan_resources
    from orchestrator.reconcile import reconcile, trial_ids
    from orchestrator.settings import SweepSettings
    from orchestrator.sweep import SweepPlan, make_tuner

    sweep = SweepSettings(space, record["profile"], dict(record.get("overrides") or {}))
    cluster = connect(args.address, num_cpus=args.num_cpus,
                      include_dashboard=not args.no_dashboard,
                      dashboard_host=args.dashboard_host)
    grid = None
    try:
        resources, concurrency = plan_resources(options, cluster.resources, len(plan.runs))
        reuse = default_reuse(None, resources, cluster.dashboard_url)
        target.create({
            "space": space.name, "trainable": space.trainable, "profile": record["profile"],
            "overrides": record.get("overrides") or {}, "searched": list(sweep.searched),
            "objectives": [list(o) for o in space.objectives], "settings": settings,
            "num_samples": len(plan.runs), "concurrency": concurrency, "seed": None,
            "resources": vars(resources), "address": args.address, "reuse_actors": reuse,
            "sampler": "fixed list (confirm)", "constraints": [], "early_stop": False,
            "warm_start": None, "warm_start_trials": 0, "time_budget_s": None, "targets": None,
            CONFIRMS_KEY: plan.record(source.name)})
        links = [n for n in record.get(CONFIRMED_BY_KEY) or [] if n != target.name]
        source.update({CONFIRMED_BY_KEY: [*links, target.name]})
        driver_lock.acquire(target, "confirm")
        _print_start(source, target, plan, concurrency)
        sweep_plan = SweepPlan(target, sweep, len(plan.runs), concurrency, resources,
                               early_stop=False, quiet=args.quiet, verbosity=args.tune_verbose,
                               reuse_actors=reuse, log_to=("tensorboard",))
        from ray.tune.search import ConcurrencyLimiter

        from orchestrator.fixed_configs import FixedConfigSearch

        searcher = ConcurrencyLimiter(FixedConfigSearch([r.config for r in plan.runs]),
                                      max_concurrent=concurrency)
        if args.tune_verbose == 0:  # as run_sweep: our progress lines, not Tune's banner
            os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
        grid = make_tuner(sweep_plan, search_alg=searcher).fit()
        reconcile(target, trial_ids(grid, space.name))
    finally:
        shutdown_if_started(cluster)
        driver_lock.release(target)
    return finish(target, grid)


def _print_start(source: Experiment, target: Experiment, plan: Any, concurrency: int) -> None:
    rows = "the full evaluation split" if plan.full_eval else "the evaluation rows the search used"
    print(f"experiment {target.name}: confirms {len(plan.trials)} trials of {source.name} "
          f"({plan.selection}) with {plan.seeds_per_trial} new seeds each, {len(plan.runs)} "
          f"runs, {concurrency} at a time, on {rows}")
    print(f"  folder    {redact(target.uri)}")
    print(f"  trials    {', '.join(plan.trials)}")
    seeds = [r.seed for r in plan.runs]
    print(f"  seeds     {seeds[0]}..{seeds[-1]} (one per run, none the search used)")

