"""Sparse inference speed: MiniLM pruned per matrix, sparse storage vs the dense model.

    python benchmarks/sparse_speed.py [--sparsities 0.5,0.9,0.95,0.97] [--lengths 64,128]
        [--threads 1,2] [--batch-size 32] [--rounds 5] [--model minilm]
        [--per-matrix benchmarks/recorded/cap_soft_qqp_matrix_sparsities.json]
        [--pruned CAP_PRUNED_MODEL_DIR ...] [--gelu-share]

For every sparsity, each of the 36 encoder matrices of MiniLM gets a magnitude mask at exactly
that sparsity (the per-matrix pattern of CAP-m, whose top-k keeps the same fraction of every
matrix; magnitudes stand in for movement scores, so the pattern is unstructured), the masks
are baked into dense zeros, and :func:`trainables.sparse.sparsify` picks dense or CSR per
linear by timing at the benchmark's batch. Then the baked model in dense storage and the same
model in its chosen storage run alternately (one forward pass each per round, batch 32, full
length, no grad) and the speed-up is the ratio of the medians: within one process, so a
contended machine slows both alike. Each configuration is measured twice in the same run:
with the per-layer verdicts alone (``per-layer``) and after the whole-model tuning and guard
(``tuned``, :mod:`trainables.sparse.whole_model`, what trials and ``convert`` use).
``--per-matrix`` adds masks with the per-matrix sparsities of real CAP-soft trials (recorded:
attention matrices end near 0.5% density at 97%, the FFN at 2-7%), and ``--pruned`` adds
real baked models (a CAP trial's ``pruned_model/``: its own, uneven
per-matrix sparsities and structure) to the magnitude-masked ones. ``--gelu-share`` times the
dense model with its FFN GELU in place against the stock dense model: the part of the
speed-up that the ``csr_tiled`` layers' fused GELU would give a dense model too.

Goal: >= 1.5x at 90% and >= 2.5x at 97% on one thread, never slower than dense.

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


def magnitude_baked(model, sparsity: float | dict[str, float]):
    """A copy of ``model`` whose encoder matrices keep their largest (1 - sparsity) weights.

    ``sparsity``: one value for every matrix, or one per matrix named ``layer.I.PATH``
    (e.g. ``layer.0.attention.self.query``, as in a CAP trial's recorded sparsities).
    """
    import torch

    from trainables.models import LINEAR_ROLES, iter_encoder_linears

    baked = copy.deepcopy(model)
    with torch.no_grad():
        for index, role, linear in iter_encoder_linears(baked):
            weight = linear.weight
            target = (sparsity if isinstance(sparsity, float)
                      else sparsity[f"layer.{index}.{LINEAR_ROLES[role]}"])
            keep = max(1, round(weight.numel() * (1.0 - target)))
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


def serving_tensors(model, batch_size: int, length: int) -> dict:
    """A seeded batch of ``batch_size`` full-length rows (ids above the special tokens)."""
    import torch

    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, model.config.vocab_size, (batch_size, length),
                        generator=generator)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids),
            "token_type_ids": torch.zeros_like(ids)}


def measure(baked, label: str, length: int, batch_size: int, rounds: int, cache) -> dict:
    """``baked`` in its chosen storage against itself dense, per-layer choice and tuned."""
    import torch

    from trainables.latency import paired_latency_ms
    from trainables.sparse import sparsify

    tensors = serving_tensors(baked, batch_size, length)
    row: dict = {"model": label, "measured_sparsity": encoder_sparsity(baked),
                 "length": length, "batch_size": batch_size,
                 "threads": torch.get_num_threads()}
    for variant, tune in (("per_layer", None), ("tuned", tensors)):
        start = time.perf_counter()
        sparse, plan = sparsify(copy.deepcopy(baked), batch_size * length, cache=cache,
                                tune_inputs=tune)
        choose_s = time.perf_counter() - start
        with torch.no_grad():
            diff = (sparse(**tensors).logits - baked(**tensors).logits).abs().max().item()
        speed = paired_latency_ms(sparse, tensors, device=torch.device("cpu"), dense=baked,
                                  batch_size=batch_size, rounds=rounds, warmup=1)
        kernels: dict[str, int] = {}
        for record in plan.layers.values():
            kernels[record["kernel"]] = kernels.get(record["kernel"], 0) + 1
        row[variant] = {**speed, "kernels": kernels, "choose_s": choose_s,
                        "max_abs_diff": diff, "tuning": plan.tuning}
    return row


def dense_gelu_share(dense_model, length: int, batch_size: int, rounds: int) -> dict:
    """The stock dense model against itself with its FFN GELU in place: how much of a sparse
    model's speed-up the fused GELU of ``csr_tiled`` would also give dense."""
    import torch

    from trainables.latency import paired_latency_ms

    class InPlaceGelu(torch.nn.Module):
        def forward(self, inputs):
            return torch.ops.aten.gelu_(inputs)

    fused = copy.deepcopy(dense_model)
    for layer in fused.bert.encoder.layer:
        layer.intermediate.intermediate_act_fn = InPlaceGelu()
    tensors = serving_tensors(dense_model, batch_size, length)
    speed = paired_latency_ms(fused, tensors, device=torch.device("cpu"), dense=dense_model,
                              batch_size=batch_size, rounds=rounds, warmup=1)
    return {"model": "dense, GELU in place", "length": length, "batch_size": batch_size,
            "threads": torch.get_num_threads(), **speed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sparsities", default="0.5,0.9,0.95,0.97")
    parser.add_argument("--lengths", default="64,128")
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--per-matrix", default=None,
                        help="JSON of real CAP trials' per-matrix sparsities (e.g. "
                        "benchmarks/recorded/cap_soft_qqp_matrix_sparsities.json): masks with "
                        "those sparsities, matrix by matrix, are measured too")
    parser.add_argument("--pruned", nargs="*", default=[],
                        help="baked model folders (a CAP trial's pruned_model/) to measure too")
    parser.add_argument("--gelu-share", action="store_true",
                        help="also time the dense model with its FFN GELU in place (the "
                        "fusion csr_tiled does) against the stock dense model")
    parser.add_argument("--out", default=str(OUT / "sparse_speed.json"))
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForSequenceClassification

    from trainables.models import load_classifier
    from trainables.sparse import TimingCache

    dense_model = load_classifier(args.model, 2).eval()
    sparsities = [float(s) for s in args.sparsities.split(",") if s]
    models = [(f"magnitude {s:.2f}", s) for s in sparsities]
    if args.per_matrix:
        trials = json.loads(Path(args.per_matrix).read_text())["trials"]
        models += [(f"per-matrix {t['encoder_sparsity']:.3f} ({name})", t["matrices"])
                   for name, t in sorted(trials.items(), key=lambda i: i[1]["encoder_sparsity"])]
    models += [(f"pruned {Path(d).parent.parent.name or d}", d) for d in args.pruned]
    rows = []
    for threads in [int(t) for t in args.threads.split(",")]:
        torch.set_num_threads(threads)
        cache = TimingCache(None)  # per thread count, in-process: the benchmark times afresh
        for length in [int(n) for n in args.lengths.split(",")]:
            if args.gelu_share:
                row = dense_gelu_share(dense_model, length, args.batch_size, args.rounds)
                rows.append(row)
                print(f"threads {threads} length {length:3d} dense with its GELU in place: "
                      f"{row['speedup']:.2f}x ({row['latency_ms']:.0f} vs "
                      f"{row['dense_latency_ms']:.0f} ms): the part of csr_tiled's speed-up "
                      "a dense model would get from the same fusion", flush=True)
            for label, source in models:
                if isinstance(source, (float, dict)):
                    baked = magnitude_baked(dense_model, source)
                else:
                    baked = AutoModelForSequenceClassification.from_pretrained(source).eval()
                row = measure(baked, label, length, args.batch_size, args.rounds, cache)
                rows.append(row)
                parts = []
                for variant in ("per_layer", "tuned"):
                    r = row[variant]
                    parts.append(f"{variant} {r['speedup']:.2f}x ({r['latency_ms']:.0f} vs "
                                 f"{r['dense_latency_ms']:.0f} ms, "
                                 f"{r['kernels'].get('dense', 0)} dense linears, "
                                 f"{r['choose_s']:.0f}s to choose)")
                print(f"threads {threads} length {length:3d} {label} (encoder sparsity "
                      f"{row['measured_sparsity']:.3f}): " + "; ".join(parts) +
                      f"; max|diff| {row['tuned']['max_abs_diff']:.1e}", flush=True)
                out = Path(args.out)
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps({"model": args.model, "rows": rows,
                                           "torch": torch.__version__}, indent=1))


if __name__ == "__main__":
    main()
