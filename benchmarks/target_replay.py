"""Replay of the calibrated lambda map on a measured lambda -> sparsity curve (no training).

    python benchmarks/target_replay.py [--trials 12] [--noise 0.01] [--seeds 20]

Not a sweep: a cheap check of the calibration loop of ``launch --targets`` for CAP-soft. The
"truth" is the curve the README measured on QQP (dev profile, 375 steps, CAP-soft):
final_lambda 100 / 300 / 1000 / 3000 -> 47% / 73% / 94% / 99% weight sparsity, interpolated
linearly in log(lambda) (flat beyond the ends, clipped to MiniLM's 99.22% ceiling), plus
Gaussian noise of ``--noise`` per trial (seed to seed variation). Targets 0.5, 0.9, 0.97 are
served round robin and each trial's lambda comes from ``orchestrator.calibration`` fitted on
the trials before it (one at a time, as ``--concurrency 1``). Against it: the same number of
trials with lambda drawn log-uniformly from the space's 100..4000 (what a sweep without
targets does), counted within 2 points of any target. Prints, per seed-averaged trial index,
the mean |achieved - target|, and after how many trials every later trial landed within 2
points, per seed.
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from orchestrator.calibration import LambdaCalibration, Observation  # noqa: E402

MEASURED = ((100.0, 0.47), (300.0, 0.73), (1000.0, 0.94), (3000.0, 0.99))
CEILING = 0.9922  # MiniLM-L6 under the soft rule's 0.5% floor (trainables.knob_maps)
TARGETS = (0.5, 0.9, 0.97)


def truth(lam: float) -> float:
    u = math.log(lam)
    points = [(math.log(x), y) for x, y in MEASURED]
    if u <= points[0][0]:
        return points[0][1] * math.exp(0.9 * (u - points[0][0]))  # below: decays towards 0
    for (u0, y0), (u1, y1) in zip(points, points[1:]):
        if u <= u1:
            return y0 + (y1 - y0) * (u - u0) / (u1 - u0)
    return min(points[-1][1], CEILING)


def replay(seed: int, trials: int, noise: float) -> tuple[list[float], int]:
    rng = random.Random(seed)
    cal = LambdaCalibration(CEILING, (math.log(100.0), math.log(4000.0)))
    obs: list[Observation] = []
    diffs = []
    for i in range(trials):
        target = TARGETS[i % len(TARGETS)]
        lam, _ = cal.propose(target, {}, obs, TARGETS)
        reached = min(max(truth(lam) + rng.gauss(0.0, noise), 0.0), CEILING)
        obs.append(Observation(math.log(lam), reached))
        diffs.append(reached - target)
    last_miss = max((i + 1 for i, d in enumerate(diffs) if abs(d) > 0.02), default=0)
    return diffs, last_miss


def random_hits(seed: int, trials: int, noise: float) -> int:
    rng = random.Random(1000 + seed)
    hits = 0
    for _ in range(trials):
        lam = math.exp(rng.uniform(math.log(100.0), math.log(4000.0)))
        reached = min(max(truth(lam) + rng.gauss(0.0, noise), 0.0), CEILING)
        hits += any(abs(reached - t) <= 0.02 for t in TARGETS)
    return hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--noise", type=float, default=0.01)
    parser.add_argument("--seeds", type=int, default=20)
    args = parser.parse_args()
    print(f"command: python benchmarks/target_replay.py {' '.join(sys.argv[1:])}")
    runs = [replay(s, args.trials, args.noise) for s in range(args.seeds)]
    print("trial  target  mean|achieved-target|  share within 2 pts (over seeds)")
    for i in range(args.trials):
        diffs = [abs(r[0][i]) for r in runs]
        print(f"{i + 1:>5}  {TARGETS[i % 3]:>6}  {statistics.mean(diffs):>20.4f}  "
              f"{sum(d <= 0.02 for d in diffs) / len(diffs):>6.2f}")
    last = [r[1] for r in runs]
    print(f"every later trial within 2 points after trial: median {statistics.median(last)}, "
          f"max {max(last)} (per seed: {last})")
    hits = [sum(abs(d) <= 0.02 for d in r[0]) for r in runs]
    rand = [random_hits(s, args.trials, args.noise) for s in range(args.seeds)]
    print(f"trials within 2 points of their target, with --targets: mean "
          f"{statistics.mean(hits):.1f} of {args.trials}; log-uniform lambda (no targets), "
          f"within 2 points of any target: mean {statistics.mean(rand):.1f} of {args.trials}")


if __name__ == "__main__":
    main()
