"""How many scored examples SMP's mask needs: agreement with the full-set mask vs count.

    python benchmarks/smp_mask_stability.py [--rows 4000] [--counts 64,128,256,512,1000,2000]
        [--ratios 0.3,0.5,0.7] [--resamples 5] [--threads 1] [--out FILE]

The ``cal`` scoring pass (``trainables.smp.artifacts.head_scores``) averages the pruner
CNN's per-head scores over the task's training rows in batches of 8. With
``mask_max_examples = n`` it scores a fixed random subset of ``n`` rows (``subsample``:
seed 0, original order). This script measures how the keep-mask at prune ratios
0.3/0.5/0.7 (the per-layer rule) converges to the mask of the whole set as ``n`` grows:

1. Scores every one of ``--rows`` SST-2 training rows once (real data from
   ../shared/data/glue/parquet, MiniLM, the released pruner ../shared/data/smp/base.bin,
   length 128, eval mode), keeping per-example ``[L, H]`` scores. In eval mode the CNN
   scores each map alone, so a subset's score is the mean over its batches of 8 of the
   per-example batch means, exactly what ``compute_head_scores`` computes (checked on the
   first 16 rows every run). "Full" is these ``--rows`` rows (a subset of SST-2's 67,349: say so), or
   the first ``--full-rows`` of them.
2. For each count: the Jaccard index of the pruned-head sets (subset mask vs full mask)
   and the fraction of heads with the same keep/prune decision, for the deployed subset
   (``subsample``, seed 0) and for ``--resamples`` other random subsets (mean and min).

Per-example scores are saved to benchmarks/out/smp_example_scores_<rows>.npy as they are computed,
so an interrupted run resumes where it stopped. Writes benchmarks/out/smp_mask_stability.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GLUE = REPO.parent / "shared" / "data" / "glue" / "parquet"
PRUNER = REPO.parent / "shared" / "data" / "smp" / "base.bin"
OUT = REPO / "benchmarks" / "out" / "smp_mask_stability.json"
BATCH = 8  # the original's per_gpu_eval_batch_size, the trainable's mask_batch_size default


def example_scores(plm, cnn, tensors, pair: bool, start: int, stop: int):
    """Per-example CNN head scores ``[B, L, H]`` of rows ``start:stop`` (no batch mean)."""
    import torch

    from trainables.smp.attention import SEQUENCE_KEYS, attention_maps, eval_mode, pad_to
    from trainables.smp.pruner import MAP_SIZE

    batch = {k: tensors[k][start:stop] for k in SEQUENCE_KEYS if k in tensors}
    with eval_mode(plm, cnn), torch.no_grad():
        maps = attention_maps(plm, pad_to(batch, MAP_SIZE))
        layers, size, heads, seq, _ = maps.shape
        scores = cnn(maps.reshape(layers * size * heads, 1, seq, seq))
        scores = scores[:, 0 if pair else 1].reshape(layers, size, heads)
    return scores.permute(1, 0, 2).contiguous()


def subset_scores(per_example, rows):
    """``compute_head_scores`` of the rows ``rows`` (in that order) from per-example scores."""
    import numpy as np

    chosen = per_example[rows]
    means = [chosen[i:i + BATCH].mean(axis=0) for i in range(0, len(chosen), BATCH)]
    return np.mean(means, axis=0)


def pruned(scores, ratio: float):
    import torch

    from trainables.smp.masks import head_mask_per_layer

    keep = head_mask_per_layer(torch.as_tensor(scores), ratio, exact_count=True)
    return ~keep.numpy()


def agreement(a, b) -> tuple[float, float]:
    """(Jaccard of the pruned sets, fraction of heads with the same decision)."""
    union = (a | b).sum()
    jaccard = float((a & b).sum() / union) if union else 1.0
    return jaccard, float((a == b).mean())


def score_all(args, tensors, pair: bool, scores_file: Path):
    """Per-example scores of every row, resumed from ``scores_file`` if a run stopped early."""
    import numpy as np
    import torch

    from trainables.models import load_classifier
    from trainables.smp.pruner import load_pruner_checkpoint

    total = len(tensors["input_ids"])
    done = np.load(scores_file) if scores_file.is_file() else None
    if done is not None and len(done) > total:
        done = done[:total]
    start = 0 if done is None else len(done)
    parts = [] if done is None else [done]
    if start >= total:
        return done, 0.0
    plm = load_classifier("minilm", 2, attn_implementation="eager", seed=42).eval()
    cnn = load_pruner_checkpoint(PRUNER).eval()
    began = time.perf_counter()
    chunk = 25 * BATCH
    for first in range(start, total, chunk):
        rows = []
        for lo in range(first, min(first + chunk, total), BATCH):
            rows.append(example_scores(plm, cnn, tensors, pair, lo, min(lo + BATCH, total)))
        parts.append(torch.cat(rows).numpy())
        so_far = np.concatenate(parts)
        tmp = scores_file.with_suffix(".tmp.npy")
        np.save(tmp, so_far)
        os.replace(tmp, scores_file)
        print(f"scored {len(so_far)}/{total} rows, {time.perf_counter() - began:.0f}s",
              flush=True)
    return so_far, time.perf_counter() - began


def check_shortcut(tensors, per_example, pair: bool, rows: int = 16) -> float:
    """Max |``compute_head_scores`` - the per-example shortcut| on the first ``rows`` rows."""
    import numpy as np

    from trainables.models import load_classifier
    from trainables.smp.masks import compute_head_scores
    from trainables.smp.pruner import load_pruner_checkpoint

    rows = min(rows, len(per_example))
    plm = load_classifier("minilm", 2, attn_implementation="eager", seed=42).eval()
    cnn = load_pruner_checkpoint(PRUNER).eval()
    head = {k: v[:rows] for k, v in tensors.items()}
    reference = compute_head_scores(plm, cnn, head, pair, BATCH).numpy()
    return float(np.abs(reference - subset_scores(per_example, np.arange(rows))).max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--counts", default="64,128,256,512,1000,2000")
    parser.add_argument("--ratios", default="0.3,0.5,0.7")
    parser.add_argument("--resamples", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--full-rows", type=int,
                        help="treat only the first N scored rows (of the --rows subset, in "
                        "SST-2's order) as the full set; scores nothing when N are scored")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import numpy as np
    import torch

    from trainables.data import load_task_data
    from trainables.models import load_tokenizer
    from trainables.smp.artifacts import subsample
    from trainables.tasks import get_task

    torch.set_num_threads(args.threads)
    scores_file = REPO / "benchmarks" / "out" / f"smp_example_scores_{args.rows}.npy"
    scores_file.parent.mkdir(parents=True, exist_ok=True)
    task = get_task("sst2")
    data = load_task_data(task, load_tokenizer("minilm"), data_dir=str(GLUE), synthetic=False,
                          max_seq_length=128, max_train_examples=args.rows,
                          max_eval_examples=1, subset_seed=0)
    train = data.train
    if args.full_rows:
        train = {k: v[:args.full_rows] for k, v in train.items()}
    per_example, seconds = score_all(args, train, task.is_pair, scores_file)
    total = len(per_example)
    shortcut_error = check_shortcut(train, per_example, task.is_pair)
    print(f"check: max |compute_head_scores - per-example mean| on 16 rows = "
          f"{shortcut_error:.2e}", flush=True)
    ratios = [float(r) for r in args.ratios.split(",")]
    counts = [int(c) for c in args.counts.split(",") if int(c) < total] + [total]
    full = {r: pruned(subset_scores(per_example, np.arange(total)), r) for r in ratios}
    curve = []
    for count in counts:
        index = {"idx": torch.arange(total), "input_ids": torch.zeros(total, 1)}
        deployed = subsample(index, count)["idx"].numpy()  # the trainable's own subset
        row = {"examples": count}
        for ratio in ratios:
            jac, same = agreement(pruned(subset_scores(per_example, deployed), ratio),
                                  full[ratio])
            others = []
            for seed in range(1, args.resamples + 1):
                rows = np.sort(np.random.default_rng(seed).permutation(total)[:count])
                others.append(agreement(pruned(subset_scores(per_example, rows), ratio),
                                        full[ratio]))
            row[str(ratio)] = {
                "jaccard": jac, "same_decision": same,
                "resampled_jaccard_mean": float(np.mean([o[0] for o in others])),
                "resampled_jaccard_min": float(min(o[0] for o in others)),
                "resampled_same_mean": float(np.mean([o[1] for o in others]))}
        curve.append(row)

    def first_stable(metric: str) -> int | None:
        # the smallest count from which on every larger count agrees at every ratio
        ok = [all(r[str(q)][metric] >= 0.95 for q in ratios) for r in curve]
        for i, row in enumerate(curve):
            if all(ok[i:]):
                return row["examples"]
        return None

    record = {"settings": vars(args), "full_rows": total, "subset_rows": args.rows, "task": "sst2", "model": "minilm",
              "pruner": str(PRUNER), "scoring_seconds_this_run": seconds,
              "heads": list(per_example.shape[1:]), "curve": curve,
              "shortcut_max_abs_error": shortcut_error,
              "smallest_jaccard_095": first_stable("jaccard"),
              "smallest_resampled_jaccard_095": first_stable("resampled_jaccard_mean"),
              "smallest_same_decision_095": first_stable("same_decision"),
              "load_average": os.getloadavg()}
    out = Path(args.out)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=2))
    os.replace(tmp, out)
    print(f"full = {total} SST-2 training rows (the first {total} of a {args.rows}-row random "
          f"subset of 67,349); heads {record['heads']}")
    header = "  ".join(f"r={r}: J / same / J resampled mean (min)" for r in ratios)
    print(f"{'examples':>8}  {header}")
    for row in curve:
        cells = "  ".join(
            f"{row[str(r)]['jaccard']:.3f} / {row[str(r)]['same_decision']:.3f} / "
            f"{row[str(r)]['resampled_jaccard_mean']:.3f} "
            f"({row[str(r)]['resampled_jaccard_min']:.3f})" for r in ratios)
        print(f"{row['examples']:>8}  {cells}")
    print(f"smallest count with Jaccard >= 0.95 at every ratio (deployed subset): "
          f"{record['smallest_jaccard_095']}; resampled mean: "
          f"{record['smallest_resampled_jaccard_095']}; same decision >= 95%: "
          f"{record['smallest_same_decision_095']}")


if __name__ == "__main__":
    main()
