"""Search efficiency in target mode: per target, the best score a sampler finds in n trials.

    python benchmarks/search_efficiency_targets.py \
        [--table benchmarks/search_table/cap_soft_qqp.csv] [--samplers tpe,gp,qmc,random] \
        [--seeds 20] [--max-trials 64] [--early-stop both|on|off] [--seeds-for gp=5] \
        [--noise repeats|heldout] [--json OUT] [--force]

``launch --targets 0.5,0.9,0.97`` spreads a sweep's trials over a few sparsities and derives
the sparsity knob of each trial (CAP-soft: the controller lands it), so what a search has to
find is the best *score* at each target, not a hypervolume. This replays such a sweep against
a surrogate of a recorded target-mode table (``benchmarks/search_table/record.sh
cap_soft_qqp``), through the product's own searcher, sampler, target plan and early-stopping
scheduler (:func:`search_efficiency.run_search` with a fresh ``TargetPlan`` per run), one
trial at a time as a 1-slot sweep runs them.

The surrogate (``benchmarks/search_surrogate.py``) maps the searched knobs and the target
(in place of the derived knob, which the plan sets from the target) to the learning curves;
it is refused below its accuracy bar as in ``search_efficiency.py``.

Metrics per target x sampler x early stopping, mean +- standard error over seeds:

- the best score among the completed trials aimed at that target after n = 8, 16, 32, 64
  trials of the sweep (all targets together; the plan serves them round robin);
- trials of the sweep until a completed trial at the target gains 95% of the table's best
  gain over the majority-class score there, ``score - majority >= 0.95 (best - majority)``
  (a ratio of scores would call most trials that learned anything "95% of the best"). Seeds
  that never get there count as ``max-trials + 1``. The majority score is the table's
  measured ``majority_score`` (the rows the scores rest on), as in ``analysis pareto``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
for _path in (REPO, REPO / "benchmarks"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

from search_efficiency import CHECKPOINTS, SAMPLERS, TARGET, TrialOutcome  # noqa: E402
from search_efficiency import OptionError, add_replay_options, replay_choices  # noqa: E402
from search_efficiency import run_search  # noqa: E402

TABLE = REPO / "benchmarks" / "search_table" / "cap_soft_qqp.csv"
TARGET_COLUMN = "target_sparsity"


class TargetTableError(ValueError):
    """The table is not a target-mode table (no targets recorded)."""


def table_targets(table: Any) -> tuple[float, ...]:
    """The targets of a target-mode table's main sweep, ascending."""
    if TARGET_COLUMN not in table:
        raise TargetTableError(f"the table has no {TARGET_COLUMN} column: record it with "
                               "launch --targets (record.sh cap_soft_qqp)")
    main = table[table["repeat"] == 0]
    targets = sorted({round(float(t), 6) for t in main[TARGET_COLUMN].dropna()})
    if not targets:
        raise TargetTableError(f"no {TARGET_COLUMN} recorded in the table's main sweep")
    return tuple(targets)


def with_target_param(table: Any) -> Any:
    """The table with the target as a ``param_`` column, the surrogate's input."""
    table = table.copy()
    table[f"param_{TARGET_COLUMN}"] = table[TARGET_COLUMN]
    return table


def target_params(space: Any, knob: str) -> tuple[Any, ...]:
    """The surrogate's inputs: the searched knobs but the derived one, and the target."""
    from search_surrogate import Param, params_of

    return (*[p for p in params_of(space) if p.name != knob], Param(TARGET_COLUMN, "float"))


def plan_factory(space: Any, targets: Sequence[float], profile: str = "dev",
                 sets: Sequence[str] = ()) -> Callable[[], Any]:
    """Builds a fresh ``TargetPlan`` (what ``launch --targets`` builds) for each run."""
    from orchestrator.settings import build_settings
    from orchestrator.target_plan import plan_targets

    text = ",".join(f"{t:g}" for t in targets)

    def make() -> Any:
        return plan_targets(text, build_settings(space, profile, sets=sets, aimed=True))

    return make


def best_per_target(table: Any, targets: Sequence[float]) -> dict[float, float]:
    """The best final score of the table's main-sweep completed trials at each target."""
    final = table[(table["is_final"] == 1) & (table["status"] == "completed")
                  & (table["repeat"] == 0)]
    best = {}
    for target in targets:
        scores = final[np.isclose(final[TARGET_COLUMN].astype(float), target)]["score"]
        if scores.empty:
            raise TargetTableError(f"no completed trial at target {target:g} in the table")
        best[target] = float(scores.max())
    return best


def majority_of(table: Any, task: str | None) -> float:
    """The majority-class score ``analysis pareto`` would use for the table's rows."""
    from search_efficiency import reference_majority

    return reference_majority(table, task)[0]


def target_metrics(outcomes: Sequence[TrialOutcome], best: Mapping[float, float],
                   majority: float, checkpoints: Sequence[int]) -> dict[float, dict[str, Any]]:
    """Per target: best score after each checkpoint, and trials to 95% of the best gain."""
    out = {}
    n = len(outcomes)
    for target, top in best.items():
        running, history = -math.inf, []
        for o in outcomes:
            if o.completed and o.target is not None and math.isclose(o.target, target):
                running = max(running, o.score)
            history.append(running)
        goal = majority + TARGET * (top - majority)
        reached = [i for i, value in enumerate(history) if value >= goal]
        out[target] = {
            "best": {c: (history[min(c, n) - 1] if history[min(c, n) - 1] > -math.inf
                         else majority) for c in checkpoints if c <= n},
            "trials_to_target": reached[0] + 1 if reached else None,
        }
    return out


def summarise(runs: Sequence[Mapping[float, Mapping[str, Any]]], max_trials: int
              ) -> dict[float, dict[str, Any]]:
    """Mean and standard error over seeds per target (censored seeds: ``max_trials + 1``)."""
    def mean_se(values: Sequence[float]) -> tuple[float, float]:
        arr = np.asarray(values, dtype=float)
        se = float(arr.std(ddof=1) / math.sqrt(len(arr))) if len(arr) > 1 else 0.0
        return float(arr.mean()), se

    out = {}
    for target in runs[0]:
        per = [r[target] for r in runs]
        out[target] = {
            "seeds": len(per),
            "best": {c: mean_se([p["best"][c] for p in per]) for c in per[0]["best"]},
            "trials_to_target": mean_se([p["trials_to_target"] or max_trials + 1
                                         for p in per]),
            "reached": sum(p["trials_to_target"] is not None for p in per),
        }
    return out


def evaluate(space: Any, benchmark: Any, make_plan: Callable[[], Any],
             best: Mapping[float, float], majority: float, *, samplers: Sequence[str],
             seeds: Sequence[int], max_trials: int, early_stop: Sequence[bool],
             seeds_for: Mapping[str, int] | None = None,
             log: Callable[[str], None] = lambda line: None) -> dict[str, Any]:
    """``{f"{sampler}/{'es' if on else 'no-es'}": {target: summary}}`` over ``seeds``."""
    checkpoints = tuple(c for c in CHECKPOINTS if c <= max_trials) or (max_trials,)
    out = {}
    for sampler in samplers:
        for es in early_stop:
            chosen = list(seeds)[:(seeds_for or {}).get(sampler, len(seeds))]
            runs = [target_metrics(run_search(space, benchmark, sampler, seed, max_trials,
                                              early_stop=es, targets=make_plan()),
                                   best, majority, checkpoints) for seed in chosen]
            key = f"{sampler}/{'es' if es else 'no-es'}"
            out[key] = summarise(runs, max_trials)
            log(f"  {key}: {len(chosen)} seeds")
    return out


def format_table(space_name: str, results: Mapping[str, Mapping[float, Any]],
                 best: Mapping[float, float], max_trials: int) -> str:
    """Markdown: per target and sampler, best score at n (mean +- se) and trials to 95%."""
    first = next(iter(next(iter(results.values())).values()))
    cps = list(first["best"])
    lines = [f"| {space_name} target | sampler | " + " | ".join(f"best@{c}" for c in cps)
             + " | trials to 95% | reached |", "|" + "---|" * (len(cps) + 4)]
    for target in best:
        for key, per_target in results.items():
            s = per_target[target]
            cells = " | ".join(f"{s['best'][c][0]:.4f} +- {s['best'][c][1]:.4f}" for c in cps)
            t, tse = s["trials_to_target"]
            lines.append(f"| {target:g} (table best {best[target]:.4f}) | {key} | {cells} | "
                         f"{t:.1f} +- {tse:.1f} | {s['reached']}/{s['seeds']} |")
    lines.append(f"(trials count the whole sweep, all targets; seeds that never reach 95% "
                 f"within {max_trials} trials count as {max_trials + 1})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--table", default=str(TABLE), help="a recorded target-mode table")
    add_replay_options(parser, ",".join(s for s in SAMPLERS if s != "nsga2"))
    args = parser.parse_args(argv)

    import search_spaces
    from orchestrator.target_plan import KNOBS, method_of
    from search_surrogate import SurrogateError, check_accuracy, fit, load_table

    try:
        samplers, seeds_for, early = replay_choices(args)
    except OptionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    path = Path(args.table)
    if not path.is_file():
        print(f"error: no table at {path}", file=sys.stderr)
        return 2
    table = load_table(path)
    space = search_spaces.get_space(str(table["space"].iloc[0]))
    try:
        targets = table_targets(table)
        best = best_per_target(table, targets)
    except TargetTableError as exc:
        print(f"error: {path}: {exc}", file=sys.stderr)
        return 2
    knob = KNOBS[method_of(space.settings("dev", {}), space.trainable)]
    majority = majority_of(table, space.fixed.get("task"))
    try:
        surrogate = fit(with_target_param(table), space, params=target_params(space, knob))
        if args.noise == "heldout":
            surrogate.use_heldout_noise()
        print(f"# {space.name} ({path.name}), targets {list(targets)}: {surrogate.describe()}")
        check_accuracy(surrogate)
    except SurrogateError as exc:
        print(f"# {space.name}: {'FORCED, ' if args.force else 'refused: '}{exc}")
        if not args.force or "needs at least" in str(exc):
            return 3
    print(f"# majority-class score {majority:.4f}; table best per target "
          + ", ".join(f"{t:g}: {b:.4f}" for t, b in best.items())
          + f"; {args.seeds} seeds x {args.max_trials} trials")
    results = evaluate(space, surrogate, plan_factory(space, targets), best, majority,
                       samplers=samplers, seeds=range(args.seeds), max_trials=args.max_trials,
                       early_stop=early, seeds_for=seeds_for,
                       log=lambda line: print(line, flush=True))
    print(format_table(space.name, results, best, args.max_trials))
    if args.json:
        report = {"surrogate": surrogate.describe(), "accuracy": surrogate.accuracy,
                  "majority": majority, "best": {str(t): b for t, b in best.items()},
                  "forced": bool(args.force),
                  "results": {k: {str(t): v for t, v in per.items()}
                              for k, per in results.items()}}
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
