"""Search efficiency on recorded trials: how fast each sampler finds a space's front.

    python benchmarks/search_efficiency.py [--table benchmarks/search_table/cap_soft_sst2.csv ...]
        [--samplers tpe,nsga2,gp,random,qmc] [--seeds 20] [--max-trials 64]
        [--early-stop both|on|off] [--seeds-for gp=5] [--noise repeats|heldout]
        [--min-sparsity X] [--json OUT] [--force]

For every table (one space each) it fits the surrogate (``benchmarks/search_surrogate.py``:
random forests over the recorded learning curves, the seed noise measured by repeats),
refuses a surrogate whose held-out accuracy is poor, then runs the product's own search stack
against it without Ray: the ``SweepSearch`` searcher with ``make_sampler``'s sampler (what
``launch --sampler`` builds), the space's define-by-run function and constraints, and the
``ParetoRungScheduler`` deciding on every intermediate evaluation, exactly as a 1-slot sweep
drives them. A simulated trial costs milliseconds, so every sampler runs for many seeds.

Metrics per space x sampler x early stopping (mean and standard error over seeds):

- hypervolume after n = 8, 16, 32, 64 trials, as a fraction of the reference hypervolume
  (the front of the whole table's main sweep; reference point: sparsity 0 and the
  majority-class score, the same reference as ``analysis pareto``: measured on the evaluated
  rows where the table records it, else the task's full-dev-set value, labelled), computed on
  the values the trials reported (with their noise);
- trials and compute-seconds to reach 95% of the reference hypervolume (seeds that never get
  there within ``--max-trials`` count as ``max-trials + 1`` and are reported as such);
- early stopping: compute used and hypervolume reached with the scheduler against without it,
  for the same sampler and seeds.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

REPO = Path(__file__).resolve().parents[1]
for _path in (REPO, REPO / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

TABLE_DIR = REPO / "benchmarks" / "search_table"
CHECKPOINTS = (8, 16, 32, 64)
TARGET = 0.95
SAMPLERS = ("tpe", "nsga2", "gp", "random", "qmc")
STEPS = 1000  # simulated optimizer steps per trial (the scheduler reads step / total_steps)


class Benchmark(Protocol):
    """What a simulated trial reports; :class:`search_surrogate.Surrogate` is one."""

    fractions: np.ndarray
    settled_from: float

    def sample(self, values: Mapping[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        ...


@dataclass
class TrialOutcome:
    """One simulated trial: what it reported last, whether it finished, what it cost."""

    score: float
    sparsity: float
    completed: bool
    cost_s: float
    stopped_at: float | None  # the fraction at which the scheduler stopped it
    target: float | None = None  # the target sparsity it served (target mode)


def run_search(space: Any, benchmark: Any, sampler: str, seed: int, num_trials: int, *,
               early_stop: bool, constraints: Sequence[tuple[str, str, float]] = (),
               profile: str = "dev",
               scheduler_factory: Callable[[], Any] | None = None,
               targets: Any = None) -> list[TrialOutcome]:
    """One sweep of ``num_trials`` trials, one at a time, through the product's searcher.

    Args:
        space: the :class:`search_spaces.space.SearchSpace` being searched.
        benchmark: answers ``sample(values, rng)`` with curves at ``benchmark.fractions``.
        sampler: a ``make_sampler`` name.
        seed: the sampler's seed (and the noise stream's).
        num_trials: trials to run.
        early_stop: replay the ``ParetoRungScheduler`` on every intermediate evaluation.
        constraints: ``(metric, op, bound)`` constraints, as ``--min-sparsity`` adds them.
        profile: the profile whose define-by-run function is searched.
        scheduler_factory: builds the scheduler (default: what a 1-slot sweep builds).
        targets: a fresh ``orchestrator.target_plan.TargetPlan`` to replay ``launch --targets``
            (the plan chooses each trial's target and derives its sparsity knob; the
            benchmark is asked with the target among the values).
    """
    import logging
    import warnings

    import optuna
    from ray.tune.schedulers import TrialScheduler

    from orchestrator.early_stop import ParetoRungScheduler
    from orchestrator.search import SweepSearch, make_sampler

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    # Ray warns that an initialised sampler ignores `seed` (the product passes both) and that
    # a slow define-by-run call (GP's acquisition) should not compute: both expected here.
    logging.getLogger("ray.tune.search.optuna.optuna_search").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="Define-by-run function passed")
    define = space.define_by_run(profile, {})
    searcher = SweepSearch(
        space=targets.wrap(define) if targets is not None else define, metric=space.metrics,
        mode=space.modes,
        sampler=make_sampler(sampler, seed, len(space.metrics), bool(constraints)),
        seed=seed, constraints=tuple(constraints), targets=targets)
    scheduler = None
    if early_stop:  # orchestrator.sweep.make_scheduler at concurrency 1
        scheduler = scheduler_factory() if scheduler_factory else ParetoRungScheduler(
            min_trials=4)
    names = [s.name for s in space.suggestions().values()]
    rng = np.random.default_rng([seed, 7919])
    outcomes = []
    for i in range(num_trials):
        trial_id = f"sim_{i:05d}"
        config = searcher.suggest(trial_id)
        values = {n: config[n] for n in names}
        target = None
        if targets is not None:
            from orchestrator.target_plan import TARGET_PARAM

            target = values[TARGET_PARAM] = float(config[TARGET_PARAM])
        sim = benchmark.sample(values, rng)
        fractions = sim["fractions"]
        last = len(fractions) - 1
        for k, fraction in enumerate(fractions):
            result = {"score": float(sim["curves"]["score"][k]),
                      "weight_sparsity": float(sim["curves"]["weight_sparsity"][k]),
                      "step": int(round(fraction * STEPS)), "total_steps": STEPS,
                      "sparsity_settled": bool(fraction >= benchmark.settled_from - 1e-9),
                      "is_final": k == last}
            stop = False
            if k < last:
                searcher.on_trial_result(trial_id, result)
                stop = scheduler is not None and \
                    scheduler.decide(trial_id, result) == TrialScheduler.STOP
            if k == last or stop:
                searcher.on_trial_complete(trial_id, result)
                outcomes.append(TrialOutcome(result["score"], result["weight_sparsity"],
                                             k == last, float(sim["cost_s"][k]),
                                             None if k == last else float(fraction), target))
                break
    return outcomes


def feasible(outcome: TrialOutcome, constraints: Sequence[tuple[str, str, float]]) -> bool:
    values = {"score": outcome.score, "weight_sparsity": outcome.sparsity}
    return all((values[m] >= b) if op == ">=" else (values[m] <= b) for m, op, b in constraints)


def hv_history(outcomes: Sequence[TrialOutcome], reference_score: float,
               constraints: Sequence[tuple[str, str, float]] = ()) -> np.ndarray:
    """Hypervolume of the completed, feasible trials after each trial (score, sparsity up)."""
    from analysis.hypervolume import hypervolume_history

    points = np.array([[-o.score, -o.sparsity] if o.completed and feasible(o, constraints)
                       else [np.nan, np.nan] for o in outcomes]).reshape(-1, 2)
    return hypervolume_history(points, np.array([-reference_score, 0.0]))


def reference_hypervolume(points: np.ndarray, reference_score: float) -> float:
    """Hypervolume of (score, sparsity) rows, both maximised."""
    from analysis.hypervolume import hypervolume

    points = np.asarray(points, dtype=float).reshape(-1, 2)
    return hypervolume(-points, np.array([-reference_score, 0.0]))


def run_metrics(outcomes: Sequence[TrialOutcome], reference_hv: float, reference_score: float,
                constraints: Sequence[tuple[str, str, float]] = (),
                checkpoints: Sequence[int] = CHECKPOINTS) -> dict[str, Any]:
    """HV fractions at the checkpoints, trials and compute to the target, total compute."""
    history = hv_history(outcomes, reference_score, constraints) / reference_hv
    cost = np.cumsum([o.cost_s for o in outcomes])
    reached = np.nonzero(history >= TARGET)[0]
    n = len(outcomes)
    return {
        "hv": {c: float(history[min(c, n) - 1]) for c in checkpoints if c <= n},
        "trials_to_target": int(reached[0]) + 1 if len(reached) else None,
        "compute_to_target": float(cost[reached[0]]) if len(reached) else None,
        "compute": float(cost[-1]),
        "stopped": sum(o.stopped_at is not None for o in outcomes),
        "final_hv": float(history[-1]),
    }


def summarise(runs: Sequence[dict[str, Any]], max_trials: int) -> dict[str, Any]:
    """Mean and standard error over seeds; censored seeds count as ``max_trials + 1``."""
    def mean_se(values: Sequence[float]) -> tuple[float, float]:
        arr = np.asarray(values, dtype=float)
        se = float(arr.std(ddof=1) / math.sqrt(len(arr))) if len(arr) > 1 else 0.0
        return float(arr.mean()), se

    trials = [r["trials_to_target"] or max_trials + 1 for r in runs]
    total_compute = [r["compute"] for r in runs]
    compute = [r["compute_to_target"] if r["compute_to_target"] is not None
               else r["compute"] for r in runs]
    return {
        "seeds": len(runs),
        "hv": {c: mean_se([r["hv"][c] for r in runs]) for c in runs[0]["hv"]},
        "trials_to_target": mean_se(trials),
        "reached": sum(r["trials_to_target"] is not None for r in runs),
        "compute_to_target": mean_se(compute),
        "compute": mean_se(total_compute),
        "final_hv": mean_se([r["final_hv"] for r in runs]),
        "stopped": mean_se([r["stopped"] for r in runs]),
    }


def evaluate(space: Any, benchmark: Any, reference_hv: float, reference_score: float, *,
             samplers: Sequence[str], seeds: Sequence[int], max_trials: int,
             early_stop: Sequence[bool], constraints: Sequence[tuple[str, str, float]] = (),
             seeds_for: Mapping[str, int] | None = None,
             log: Callable[[str], None] = lambda line: None) -> dict[str, dict[str, Any]]:
    """``{f"{sampler}/{'es' if on else 'no-es'}": summary}`` over ``seeds``.

    ``seeds_for`` caps the seeds of expensive samplers (GP costs about a second per trial).
    """
    checkpoints = tuple(c for c in CHECKPOINTS if c <= max_trials) or (max_trials,)
    out = {}
    for sampler in samplers:
        for es in early_stop:
            start = time.perf_counter()
            sampler_seeds = list(seeds)[:(seeds_for or {}).get(sampler, len(seeds))]
            runs = [run_metrics(run_search(space, benchmark, sampler, seed, max_trials,
                                           early_stop=es, constraints=constraints),
                                reference_hv, reference_score, constraints, checkpoints)
                    for seed in sampler_seeds]
            key = f"{sampler}/{'es' if es else 'no-es'}"
            out[key] = summarise(runs, max_trials)
            out[key]["runs"] = runs
            log(f"  {key}: {len(sampler_seeds)} seeds in {time.perf_counter() - start:.1f} s")
    return out


def format_table(space_name: str, results: Mapping[str, Mapping[str, Any]],
                 max_trials: int) -> str:
    """A markdown table: HV fraction at n (mean +- se), trials and compute to 95%."""
    first = next(iter(results.values()))
    cps = list(first["hv"])
    head = (f"| {space_name} | " + " | ".join(f"HV@{c}" for c in cps)
            + " | trials to 95% | reached | compute s to 95% | compute s total | stopped |")
    lines = [head, "|" + "---|" * (len(cps) + 6)]
    for key, s in results.items():
        hv = " | ".join(f"{s['hv'][c][0]:.3f} +- {s['hv'][c][1]:.3f}" for c in cps)
        t, tse = s["trials_to_target"]
        c, cse = s["compute_to_target"]
        lines.append(f"| {key} | {hv} | {t:.1f} +- {tse:.1f} | {s['reached']}/{s['seeds']} | "
                     f"{c:.0f} +- {cse:.0f} | {s['compute'][0]:.0f} | "
                     f"{s['stopped'][0]:.1f} |")
    lines.append(f"(seeds that never reach 95% within {max_trials} trials count as "
                 f"{max_trials + 1} trials and their whole compute)")
    return "\n".join(lines)


def early_stop_effect(results: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, float]]:
    """Per sampler with both settings: compute saved and hypervolume lost by early stopping."""
    effect = {}
    for key, on in results.items():
        sampler, mode = key.split("/")
        off = results.get(f"{sampler}/no-es")
        if mode != "es" or off is None:
            continue
        effect[sampler] = {
            "compute_saved": 1 - on["compute"][0] / off["compute"][0],
            "hv_lost": 1 - on["final_hv"][0] / off["final_hv"][0],
            "trials_to_target_es": on["trials_to_target"][0],
            "trials_to_target_no_es": off["trials_to_target"][0],
            "compute_to_target_es": on["compute_to_target"][0],
            "compute_to_target_no_es": off["compute_to_target"][0],
        }
    return effect


def random_configs(space: Any, count: int, seed: int = 0) -> list[dict[str, Any]]:
    """``count`` uniform draws (log-uniform where the space says log) of the searched values."""
    rng = np.random.default_rng(seed)
    draws = [dict() for _ in range(count)]
    for s in space.suggestions().values():
        if s.kind == "categorical":
            picks = rng.integers(len(s.choices), size=count)
            values = [s.choices[i] for i in picks]
        else:
            low, high = (math.log(s.low), math.log(s.high)) if s.log else (s.low, s.high)
            values = rng.uniform(low, high, size=count)
            values = np.exp(values) if s.log else values
            values = [int(round(v)) for v in values] if s.kind == "int" else list(values)
        for draw, value in zip(draws, values):
            draw[s.name] = value
    return draws


def attainable_hypervolume(surrogate: Any, space: Any, reference_score: float,
                           count: int = 4096) -> float:
    """HV of the surrogate's mean predictions over many random configurations.

    A forest averages its leaves, so its best predictions sit inside the recorded extremes;
    this says how much of the table's reference hypervolume a sampler can reach at all.
    """
    points = [[p["score"][-1], p["weight_sparsity"][-1]]
              for p in (surrogate.predict(c) for c in random_configs(space, count))]
    return reference_hypervolume(np.array(points), reference_score)


def table_reference(table: Any, reference_score: float) -> float:
    """The reference hypervolume: the front of the table's main-sweep completed trials."""
    final = table[(table["is_final"] == 1) & (table["status"] == "completed")
                  & (table["repeat"] == 0)]
    return reference_hypervolume(final[["score", "weight_sparsity"]].to_numpy(float),
                                 reference_score)


class OptionError(ValueError):
    """A bad value on a replay runner's command line (one line, exit 2)."""


def add_replay_options(parser: argparse.ArgumentParser, samplers: str) -> None:
    """The options every replay runner shares (this one and ``search_efficiency_targets``)."""
    parser.add_argument("--samplers", default=samplers)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--max-trials", type=int, default=64)
    parser.add_argument("--early-stop", choices=("both", "on", "off"), default="both")
    parser.add_argument("--seeds-for", action="append", default=[], metavar="SAMPLER=N",
                        help="fewer seeds for an expensive sampler, e.g. gp=5")
    parser.add_argument("--noise", choices=("repeats", "heldout"), default="repeats",
                        help="seed noise of a simulated trial: from the table's repeats (none "
                        "without them), or the surrogate's held-out RMSE (an upper bound)")
    parser.add_argument("--force", action="store_true",
                        help="run even where the surrogate fails its accuracy check (marked)")
    parser.add_argument("--json", help="write every summary here")


def replay_choices(args: argparse.Namespace
                   ) -> tuple[list[str], dict[str, int], tuple[bool, ...]]:
    """(samplers, seeds per expensive sampler, early-stopping settings), checked.

    Raises:
        OptionError: an unknown sampler, fewer than 2 seeds or 1 trial, a bad --seeds-for.
    """
    from orchestrator.search import SAMPLERS as KNOWN

    samplers = [s.strip() for s in args.samplers.split(",") if s.strip()]
    unknown = [s for s in samplers if s not in KNOWN]
    if unknown:
        raise OptionError(f"--samplers {','.join(unknown)} not among {', '.join(KNOWN)}")
    if args.seeds < 2 or args.max_trials < 1:
        raise OptionError(f"--seeds must be >= 2 and --max-trials >= 1, but got {args.seeds} "
                          f"and {args.max_trials}")
    seeds_for = {}
    for item in args.seeds_for:
        name, _, count = item.partition("=")
        if name not in KNOWN or not count.isdigit() or int(count) < 2:
            raise OptionError(f"--seeds-for {item!r} must be SAMPLER=N with a known sampler "
                              "and N >= 2")
        seeds_for[name] = int(count)
    early = {"both": (False, True), "on": (True,), "off": (False,)}[args.early_stop]
    return samplers, seeds_for, early


def reference_majority(table: Any, task: Any) -> tuple[float, str]:
    """The score reference ``analysis pareto`` uses: the majority-class score measured on the
    evaluated rows (the table's ``majority_score``), else the labelled table fallback."""
    from analysis.baselines import majority_baseline, measured_majority

    base = measured_majority(task, table) if "is_final" in table else None
    base = base or majority_baseline(task)
    return (base.score, base.source) if base else (0.0, "no majority-class score known: 0")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--table", action="append",
                        help="a recorded table (default: every CSV in benchmarks/search_table)")
    add_replay_options(parser, ",".join(SAMPLERS))
    parser.add_argument("--min-sparsity", type=float,
                        help="replay --min-sparsity: a constraint the samplers respect")
    args = parser.parse_args(argv)

    import search_spaces
    from search_surrogate import SurrogateError, check_accuracy, fit, load_table
    try:
        samplers, seeds_for, early = replay_choices(args)
    except OptionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    constraints = []
    if args.min_sparsity is not None:
        if not 0 <= args.min_sparsity < 1:
            print(f"error: --min-sparsity must be in [0, 1), but got {args.min_sparsity}",
                  file=sys.stderr)
            return 2
        constraints.append(("weight_sparsity", ">=", args.min_sparsity))
        samplers = [s for s in samplers if s not in ("random", "qmc")]
    tables = [Path(t) for t in args.table] if args.table else sorted(TABLE_DIR.glob("*.csv"))
    missing = [str(t) for t in tables if not t.is_file()]
    if missing or not tables:
        print(f"error: no table at {', '.join(missing) or TABLE_DIR}", file=sys.stderr)
        return 2
    report: dict[str, Any] = {}
    status = 0
    for path in tables:
        table = load_table(path)
        space_name = str(table["space"].iloc[0])
        space = search_spaces.get_space(space_name)
        task = space.fixed.get("task")
        reference_score, source = reference_majority(table, task)
        print(f"# score reference: majority-class score {reference_score:.4f} ({source})")
        try:
            surrogate = fit(table, space)
            if args.noise == "heldout":
                surrogate.use_heldout_noise()
            print(f"# {space_name} ({path.name}): {surrogate.describe()}")
            check_accuracy(surrogate)
        except SurrogateError as exc:
            print(f"# {space_name}: {'FORCED, ' if args.force else 'refused: '}{exc}")
            if not args.force or "needs at least" in str(exc):
                status = 3
                report[space_name] = {"refused": str(exc)}
                continue
        ref_hv = table_reference(table, reference_score)
        attainable = attainable_hypervolume(surrogate, space, reference_score)
        print(f"# reference hypervolume {ref_hv:.4f} (table front; reference point score "
              f"{reference_score:g}, sparsity 0); the surrogate's mean front over 4096 random "
              f"configurations reaches {attainable / ref_hv:.3f} of it; {args.seeds} seeds x "
              f"{args.max_trials} trials")
        results = evaluate(space, surrogate, ref_hv, reference_score, samplers=samplers,
                           seeds=range(args.seeds), max_trials=args.max_trials,
                           early_stop=early, constraints=constraints, seeds_for=seeds_for,
                           log=lambda line: print(line, flush=True))
        print(format_table(space_name, results, args.max_trials))
        effect = early_stop_effect(results)
        for sampler, e in effect.items():
            print(f"early stopping, {sampler}: {100 * e['compute_saved']:.1f}% compute saved, "
                  f"{100 * e['hv_lost']:.1f}% of the hypervolume lost after "
                  f"{args.max_trials} trials; compute to 95% {e['compute_to_target_es']:.0f} s "
                  f"vs {e['compute_to_target_no_es']:.0f} s without")
        report[space_name] = {"surrogate": surrogate.describe(), "accuracy": surrogate.accuracy,
                              "reference_hv": ref_hv, "attainable_hv": attainable,
                              "results": results, "early_stop": effect,
                              "forced": bool(args.force)}
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1, default=_plain))
    return status


def _plain(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


if __name__ == "__main__":
    raise SystemExit(main())
