"""How well a sweep hits its target sparsities: achieved minus target for every trial, in order.

    python benchmarks/target_hits.py EXP [EXP ...] [--targets 0.5,0.9,0.97] [--within 0.02]

For each experiment (a folder), the trials in the order the study started them (Optuna's
trial number, from ``optuna.journal``), with the target each was aimed at, the prediction
(the exact map's count or the calibration model's), the achieved ``weight_sparsity`` and
``achieved - target``. A sweep run with ``--targets`` reports after how many trials every
later trial landed within ``--within`` (2 points) of its target; a sweep without targets
reports how many of its trials landed within ``--within`` of any of ``--targets`` (the
equal-budget comparison of issue 12).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def trial_order(exp: Path) -> list[str]:
    """Tune trial ids in the order Optuna started them."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    from analysis.layout import TUNE_TRIAL_ATTR

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    record = json.loads((exp / "experiment.json").read_text())
    storage = JournalStorage(JournalFileBackend(str(exp / "optuna.journal")))
    study = optuna.load_study(study_name=record["name"], storage=storage)
    return [t.user_attrs[TUNE_TRIAL_ATTR] for t in sorted(study.trials, key=lambda t: t.number)
            if TUNE_TRIAL_ATTR in t.user_attrs]


def report(exp: Path, targets: tuple[float, ...], within: float) -> None:
    from analysis import schema as S
    from analysis.io import read_experiment

    df = read_experiment(str(exp))
    final = df[df[S.IS_FINAL]].set_index(S.TRIAL_ID)
    order = [t for t in trial_order(exp) if t in final.index]
    aimed = final[S.TARGET_SPARSITY].notna().any()
    print(f"\n{exp.name}: {len(order)} finished trials"
          + (" (with --targets)" if aimed else f" (no targets; compared with {targets})"))
    print(f"{'#':>3} {'trial':<12} {'status':<10} {'lambda/knob':>11} {'target':>7} "
          f"{'predicted':>9} {'achieved':>9} {'diff':>7} {'score':>7}")
    misses, hits = [], 0
    by_target: dict[float, list[tuple[float, bool]]] = {}
    for number, trial_id in enumerate(order, 1):
        row = final.loc[trial_id]
        achieved = row[S.WEIGHT_SPARSITY]
        knob = next((row[c] for c in ("param_final_lambda", "param_final_threshold",
                                      "param_prune_ratio") if c in row and row[c] == row[c]),
                    float("nan"))
        target = row[S.TARGET_SPARSITY] if aimed else min(
            targets, key=lambda t: abs(t - achieved) if achieved == achieved else 0)
        diff = achieved - target
        ok = row[S.STATUS] == S.STATUS_COMPLETED and abs(diff) <= within
        hits += ok
        if not ok:
            misses.append(number)
        if row[S.STATUS] == S.STATUS_COMPLETED:
            collapsed = bool(row.get(S.COLLAPSED)) if S.COLLAPSED in row else False
            by_target.setdefault(float(target), []).append((float(diff), collapsed))
        print(f"{number:>3} {trial_id:<12} {row[S.STATUS]:<10} {knob:>11.4g} {target:>7.3g} "
              f"{row[S.PREDICTED_SPARSITY]:>9.4f} {achieved:>9.4f} {diff:>+7.4f} "
              f"{row[S.SCORE]:>7.4f}")
    if aimed:
        after = max(misses, default=0)
        print(f"{hits}/{len(order)} trials within {within:g} of their target; every trial "
              f"after trial {after} landed within {within:g}" if after < len(order) else
              f"{hits}/{len(order)} trials within {within:g}; the last trial still missed")
    else:
        print(f"{hits}/{len(order)} trials within {within:g} of any target {targets}")
    summarise(by_target, within)


def summarise(by_target: dict[float, list[tuple[float, bool]]], within: float) -> None:
    """Per target: completed trials, share within ``within``, mean and largest |miss|."""
    print(f"{'target':>7} {'trials':>6} {'within':>8} {'mean |miss|':>12} {'max |miss|':>11} "
          f"{'mean miss':>10} {'collapsed':>9}")
    for target in sorted(by_target):
        diffs = [d for d, _ in by_target[target]]
        near = sum(abs(d) <= within for d in diffs)
        mean_abs = sum(abs(d) for d in diffs) / len(diffs)
        print(f"{target:>7g} {len(diffs):>6} {near:>3}/{len(diffs):<4} "
              f"{100 * mean_abs:>9.2f} pt {100 * max(abs(d) for d in diffs):>8.2f} pt "
              f"{100 * sum(diffs) / len(diffs):>+7.2f} pt "
              f"{sum(c for _, c in by_target[target]):>9}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiments", nargs="+", type=Path)
    parser.add_argument("--targets", default="0.5,0.9,0.97")
    parser.add_argument("--within", type=float, default=0.02)
    args = parser.parse_args()
    targets = tuple(float(t) for t in args.targets.split(","))
    print(f"command: python benchmarks/target_hits.py {' '.join(sys.argv[1:])}")
    for exp in args.experiments:
        report(exp, targets, args.within)


if __name__ == "__main__":
    main()
