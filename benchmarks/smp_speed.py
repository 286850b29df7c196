"""SMP speed: pruned vs dense steps, meta-training throughput, time to compute a mask.

    python benchmarks/smp_speed.py [--threads 1] [--rounds 5] [--model minilm] [--bf16]

1. Pruned (50% of heads removed in every layer, physically) against the dense model at
   length 128, same process, interleaved rounds so contention hits both alike: median time
   of a full training step (batch 32: forward, backward, clip, AdamW) and inference
   throughput (batch 64, eval, no grad), as ratios dense / pruned.
2. Meta-training throughput (examples/s) of the pruner on the model, batch 16, at 128.
3. The ``cal`` pass: scoring examples/s (batch 8, eager attention), the time it implies for
   a full SST-2 training set and a dev-profile subset, and the time of the mask rule itself.

Data: real SST-2 / MRPC from ../shared/data/glue when present, else generated examples.
Figures go to stdout and to benchmarks/out/smp_speed_t<threads>[_bf16].json. Part 1 also
prints the FLOP bound: at length 128 the feed-forward block, which head pruning leaves
alone, is about two thirds of the encoder's work, so 50% of heads cannot give much more
than 1.2x unless the attention's memory-bound parts (softmax over B x H x S x S) dominate.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GLUE = REPO.parent / "shared" / "data" / "glue" / "parquet"
OUT = REPO / "benchmarks" / "out"
SST2_TRAIN = 67349  # rows of the full GLUE SST-2 training set


def task_tensors(model: str, task: str, rows: int, length: int = 128) -> dict:
    from trainables.data import load_task_data
    from trainables.models import load_tokenizer
    from trainables.tasks import get_task

    real = GLUE.is_dir()
    data = load_task_data(get_task(task), load_tokenizer(model),
                          data_dir=str(GLUE) if real else None, synthetic=not real,
                          max_seq_length=length, max_train_examples=rows, max_eval_examples=1)
    return data.train


def half_mask(layers: int, heads: int, seed: int = 0):
    import torch

    gen = torch.Generator().manual_seed(seed)
    keep = torch.zeros(layers, heads, dtype=torch.bool)
    for layer in range(layers):
        keep[layer, torch.randperm(heads, generator=gen)[: heads - heads // 2]] = True
    return keep


def timed(fn, repeats: int) -> list[float]:
    fn()  # warm-up: allocation, kernel choice
    out = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def flop_bound(config, length: int, kept: float) -> float:
    """Dense / pruned encoder multiply-adds per token: the speed-up if time were FLOPs.

    Head pruning shrinks Q/K/V/output (4 h^2) and the attention products (2 S h) by the
    kept fraction; the feed-forward block (2 h I), most of the work at length 128, stays.
    """
    h, inner = config.hidden_size, config.intermediate_size
    attention, ffn = 4 * h * h + 2 * length * h, 2 * h * inner
    return (attention + ffn) / (kept * attention + ffn)


def pruned_vs_dense(args: argparse.Namespace, tensors: dict) -> dict:
    import torch

    from trainables.models import head_layout, load_classifier
    from trainables.runtime import autocast
    from trainables.smp import prune_heads

    keys = ("input_ids", "attention_mask", "token_type_ids")
    dense, pruned = load_classifier(args.model, 2), load_classifier(args.model, 2)
    prune_heads(pruned, half_mask(*head_layout(pruned)[:2]))
    train_batch = {k: tensors[k][:32] for k in keys}
    infer_batch = {k: tensors[k][:64] for k in keys}
    labels = torch.zeros(32, dtype=torch.long)

    device = torch.device("cpu")

    def step_fn(model, optimizer):
        def step():
            with autocast(device, args.bf16):
                logits = model(**train_batch).logits
            loss = torch.nn.functional.cross_entropy(logits.float(), labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        return step

    def infer_fn(model):
        @torch.no_grad()
        def infer():
            with autocast(device, args.bf16):
                model(**infer_batch)
        return infer

    results = {name: {"train": [], "infer": []} for name in ("dense", "pruned")}
    models = {"dense": dense, "pruned": pruned}
    optimizers = {n: torch.optim.AdamW(m.parameters(), lr=1e-5) for n, m in models.items()}
    for _ in range(args.rounds):  # interleaved: drift in contention hits both alike
        for name, model in models.items():
            model.train()
            results[name]["train"] += timed(step_fn(model, optimizers[name]), 2)
            model.eval()
            results[name]["infer"] += timed(infer_fn(model), 3)
    med = {n: {k: statistics.median(v) for k, v in r.items()} for n, r in results.items()}
    low = {n: {k: min(v) for k, v in r.items()} for n, r in results.items()}
    # Under contention the minimum is the better estimate of the uncontended time; both shown.
    return {"train_step_s_median": {n: med[n]["train"] for n in med},
            "train_speedup_median": med["dense"]["train"] / med["pruned"]["train"],
            "train_speedup_min": low["dense"]["train"] / low["pruned"]["train"],
            "inference_examples_per_s_median": {n: 64 / med[n]["infer"] for n in med},
            "inference_speedup_median": med["dense"]["infer"] / med["pruned"]["infer"],
            "inference_speedup_min": low["dense"]["infer"] / low["pruned"]["infer"],
            "flop_bound_speedup": flop_bound(dense.config, 128, 0.5),
            "min_s": low, "samples": {n: len(r["train"]) for n, r in results.items()}}


def meta_training_speed(args: argparse.Namespace, tensors: dict) -> dict:
    from trainables.models import load_classifier
    from trainables.smp import MetaTrainConfig, meta_train

    plm = load_classifier(args.model, 2, attn_implementation="eager")
    config = MetaTrainConfig(updates=args.meta_updates, batch_size=16, accumulation=1,
                             save_every=10_000)
    with tempfile.TemporaryDirectory() as tmp:
        result = meta_train(plm, {"sst2": (tensors, False)}, tmp, config)
    return {"batch_size": 16, "updates": result.step, "examples_per_s": result.examples_per_s,
            "seconds_per_update": 16 / result.examples_per_s}


def mask_speed(args: argparse.Namespace, tensors: dict) -> dict:
    import torch

    from trainables.models import load_classifier
    from trainables.smp import HeadPrunerCNN, compute_head_scores, head_mask_per_layer

    plm = load_classifier(args.model, 2, attn_implementation="eager")
    cnn = HeadPrunerCNN().eval()
    rows = {k: v[: args.score_rows] for k, v in tensors.items()}
    start = time.perf_counter()
    scores = compute_head_scores(plm, cnn, rows, pair=False, batch_size=8)
    seconds = time.perf_counter() - start
    rule = timed(lambda: head_mask_per_layer(scores + torch.rand_like(scores) * 1e-3, 0.5), 20)
    rate = args.score_rows / seconds
    return {"examples": args.score_rows, "seconds": seconds, "examples_per_s": rate,
            "implied_full_sst2_s": SST2_TRAIN / rate, "implied_dev_4000_s": 4000 / rate,
            "mask_rule_ms": 1000 * statistics.median(rule)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="minilm")
    # 1: on a shared, oversubscribed CPU two OpenMP threads stalled (up to 10x slower steps)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--meta-updates", type=int, default=6)
    parser.add_argument("--score-rows", type=int, default=256)
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast for part 1")
    parser.add_argument("--only-steps", action="store_true", help="part 1 only")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()
    tensors = task_tensors(args.model, "sst2", 512)
    report = {"model": args.model, "threads": args.threads, "length": 128, "bf16": args.bf16,
              "glue_data": GLUE.is_dir(), "loadavg_before": load_before}
    report["pruned_vs_dense"] = pruned_vs_dense(args, tensors)
    if not args.only_steps:
        report["meta_training"] = meta_training_speed(args, tensors)
        report["mask"] = mask_speed(args, tensors)
    report["loadavg_after"] = os.getloadavg()
    OUT.mkdir(parents=True, exist_ok=True)
    name = f"smp_speed_t{args.threads}{'_bf16' if args.bf16 else ''}.json"
    (OUT / name).write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
