"""Sparse inference speed: MiniLM pruned per matrix, sparse storage vs the dense model.

    python benchmarks/sparse_speed.py [--sparsities 0.5,0.9,0.95,0.97] [--lengths 64,128]
        [--threads 1,2] [--batch-size 32] [--rounds 5] [--model minilm]

For every sparsity, each of the 36 encoder matrices of MiniLM gets a magnitude mask at exactly
that sparsity (the per-matrix pattern of CAP-m, whose top-k keeps the same fraction of every
matrix; magnitudes stand in for movement scores, so the pattern is unstructured), the masks
are baked into dense zeros, and :func:`trainables.sparse.sparsify` picks dense or CSR per
linear by timing at the benchmark's batch. Then the baked model in dense storage and the same
model in its chosen storage run alternately (one forward pass each per round, batch 32, full
length, no grad) and the speed-up is the ratio of the medians: within one process, so a
contended machine slows both alike. Goal: >= 1.5x at 90% and >= 2.5x at 97% on one thread,
never slower than dense (layers where sparse loses stay dense).

Figures go to stdout and benchmarks/out/sparse_speed.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out"


def magnitude_baked(model, sparsity: float):
    """A copy of ``model`` whose encoder matrices keep their largest (1 - sparsity) weights."""
    import torch

    from trainables.models import iter_encoder_linears

    baked = copy.deepcopy(model)
    with torch.no_grad():
        for _, _, linear in iter_encoder_linears(baked):
            weight = linear.weight
            keep = max(1, round(weight.numel() * (1.0 - sparsity)))
            cutoff = weight.abs().flatten().kthvalue(weight.numel() - keep + 1).values
            weight.mul_(weight.abs() >= cutoff)
    return baked.eval()


def encoder_sparsity(model) -> float:
    from trainables.models import iter_encoder_linears

    zeros = total = 0
    for _, _, linear in iter_encoder_linears(model):
        zeros += int((linear.weight == 0).sum())
        total += linear.weight.numel()
    return zeros / total


def measure(dense_model, sparsity: float, length: int, batch_size: int, rounds: int,
            cache) -> dict:
    import torch

    from trainables.latency import paired_latency_ms
    from trainables.sparse import sparsify

    baked = magnitude_baked(dense_model, sparsity)
    start = time.perf_counter()
    sparse, plan = sparsify(copy.deepcopy(baked), batch_size * length, cache=cache)
    choose_s = time.perf_counter() - start
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, dense_model.config.vocab_size, (batch_size, length),
                        generator=generator)
    tensors = {"input_ids": ids, "attention_mask": torch.ones_like(ids),
               "token_type_ids": torch.zeros_like(ids)}
    with torch.no_grad():
        diff = (sparse(**tensors).logits - baked(**tensors).logits).abs().max().item()
    speed = paired_latency_ms(sparse, tensors, device=torch.device("cpu"), dense=baked,
                              batch_size=batch_size, rounds=rounds, warmup=1)
    kernels: dict[str, int] = {}
    for record in plan.layers.values():
        kernels[record["kernel"]] = kernels.get(record["kernel"], 0) + 1
    return {"sparsity": sparsity, "measured_sparsity": encoder_sparsity(baked),
            "length": length, "batch_size": batch_size, "threads": torch.get_num_threads(),
            **speed, "kernels": kernels, "choose_s": choose_s, "max_abs_diff": diff}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sparsities", default="0.5,0.9,0.95,0.97")
    parser.add_argument("--lengths", default="64,128")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--out", default=str(OUT / "sparse_speed.json"))
    args = parser.parse_args()

    import torch

    from trainables.models import load_classifier
    from trainables.sparse import TimingCache

    dense_model = load_classifier(args.model, 2).eval()
    rows = []
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        cache = TimingCache(None)  # per thread count, in-process: the benchmark times afresh
        for length in [int(n) for n in args.lengths.split(",")]:
            for sparsity in [float(s) for s in args.sparsities.split(",")]:
                row = measure(dense_model, sparsity, length, args.batch_size, args.rounds,
                              cache)
                rows.append(row)
                print(f"threads {threads} length {length:3d} sparsity {sparsity:.2f} "
                      f"(measured {row['measured_sparsity']:.3f}): sparse "
                      f"{row['latency_ms']:7.1f} ms, dense {row['dense_latency_ms']:7.1f} ms, "
                      f"speed-up {row['speedup']:.2f}x; kernels {row['kernels']}; "
                      f"choice took {row['choose_s']:.1f}s; max|diff| "
                      f"{row['max_abs_diff']:.1e}", flush=True)
                out = Path(args.out)
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps({"model": args.model, "rows": rows,
                                           "torch": torch.__version__}, indent=1))


if __name__ == "__main__":
    main()
