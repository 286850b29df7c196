"""Writes ``generated_smp_sst2.csv``: a tiny table in the recorded table's format, for CI.

    python tests/benchmarks/search_efficiency/make_generated_table.py [TRIALS] [OUT]

Rows are GENERATED, not recorded: 16 ``smp_sst2`` configurations on an analytic landscape
(sparsity grows with ``prune_ratio``; the score falls with it and peaks at a learning rate
of ~5e-5), learning curves rising to it over 4 evaluations, seed noise of sd 0.005, and three
configurations repeated with two more seeds. The real table lives in
``benchmarks/search_table/``; this one only has to run through the runner in seconds.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np


def rows(trials: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    out: list[dict] = []

    def one(trial_id: str, ratio: float, allocation: str, lr: float, trial_seed: int,
            repeat_of: str) -> None:
        sparsity = 0.3 * ratio + (0.01 if allocation == "global" else 0.0)
        final = 0.88 - 0.25 * ratio ** 2 - 0.05 * abs(np.log10(lr) + 4.3)
        noise = rng.normal(0, 0.005)
        for fraction in (0.25, 0.5, 0.75, 1.0):
            score = 0.5 + (final - 0.5) * (1 - np.exp(-4 * fraction)) + noise
            out.append({
                "space": "smp_sst2", "experiment": "generated" + ("-repeats" if repeat_of else ""),
                "trial_id": trial_id, "seed": trial_seed, "repeat": int(bool(repeat_of)),
                "repeat_of": repeat_of, "status": "completed" if fraction == 1 else "running",
                "step": int(32 * fraction), "total_steps": 32, "fraction": fraction,
                "sparsity_settled": 1, "is_final": int(fraction == 1), "score": round(score, 6),
                "weight_sparsity": round(sparsity, 6), "head_sparsity": round(ratio, 6),
                "elapsed_s": round(5 + 40 * fraction, 3), "train_time_s": round(40 * fraction, 3),
                "param_prune_ratio": ratio, "param_allocation": allocation,
                "param_learning_rate": lr})

    configs = []
    for i in range(trials):
        config = (float(rng.uniform(0.1, 0.9)), str(rng.choice(["per_layer", "global"])),
                  float(10 ** rng.uniform(-5, -4)))
        configs.append(config)
        one(f"t{i:03d}", *config, 42, "")
    for j in range(3):
        for extra_seed in (1, 2):
            one(f"r{j}{extra_seed}", *configs[j], extra_seed, f"generated/t{j:03d}")
    return out


def main() -> None:
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 16
    path = Path(sys.argv[2]) if len(sys.argv) > 2 else \
        Path(__file__).with_name("generated_smp_sst2.csv")
    table = rows(trials)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(table[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(table)


if __name__ == "__main__":
    main()


def target_rows(trials: int = 30, seed: int = 0) -> list[dict]:
    """GENERATED rows of a ``cap_soft_qqp`` target-mode table (``launch --targets``).

    Targets 0.5, 0.9, 0.97 in turn; the score falls with the target and peaks at a
    contrastive temperature of ~0.1 and a CE weight of ~0.3; each trial lands on its target.
    """
    rng = np.random.default_rng(seed)
    out: list[dict] = []
    targets = (0.5, 0.9, 0.97)
    for i in range(trials):
        target = targets[i % 3]
        knobs = {"contrastive_temperature": float(10 ** rng.uniform(-1.52, -0.52)),
                 "cl_unsupervised_loss_weight": float(10 ** rng.uniform(-2, 0)),
                 "cl_supervised_loss_weight": float(10 ** rng.uniform(0, 1.48)),
                 "ce_loss_weight": float(10 ** rng.uniform(-1.52, 0)),
                 "distill_loss_weight": float(rng.uniform(0.3, 1.0)),
                 "extra_examples": int(round(2 ** rng.uniform(9, 13)))}
        final = (0.80 - 0.4 * (target - 0.5) ** 2
                 - 0.08 * abs(np.log10(knobs["contrastive_temperature"]) + 1)
                 - 0.06 * abs(np.log10(knobs["ce_loss_weight"]) + 0.5))
        noise = rng.normal(0, 0.003)
        for fraction in (0.25, 0.5, 0.75, 1.0):
            score = 0.32 + (final - 0.32) * (1 - np.exp(-4 * fraction)) + noise
            out.append({
                "space": "cap_soft_qqp", "experiment": "generated-targets",
                "trial_id": f"t{i:03d}", "seed": 0, "repeat": 0, "repeat_of": "",
                "status": "completed" if fraction == 1 else "running",
                "step": int(160 * fraction), "total_steps": 160, "fraction": fraction,
                "sparsity_settled": int(fraction >= 0.75), "is_final": int(fraction == 1),
                "score": round(float(score), 6),
                "weight_sparsity": round(target * min(1.0, fraction / 0.75), 6),
                "head_sparsity": 0.0, "elapsed_s": round(10 + 200 * fraction, 3),
                "train_time_s": round(200 * fraction, 3), "target_sparsity": target,
                "score_se": 0.014, "eval_examples": 1000, "majority_score": 0.3185,
                "collapsed": 0, "param_final_lambda": 500.0,
                **{f"param_{k}": v for k, v in knobs.items()}})
    return out
