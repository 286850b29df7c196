"""``python -m trainables.sparse convert MODEL_DIR --out DIR``: the sparse form for CPU serving.

Writes ``DIR`` = a copy of the Hugging Face folder ``MODEL_DIR`` (e.g. a CAP checkpoint's
``pruned_model/``) plus ``sparse_layers.json``: the linears stored sparse, each layer's timing,
and the whole model's measured speed (``speed``: ``latency_ms``, ``dense_latency_ms``,
``speedup``, the batch, length and thread count, and the largest output difference to the
dense-masked model). ``analysis export --sparse`` calls this command. Bad input: one line,
exit code 2, nothing written.

Example:
    python -m trainables.sparse convert exp/cap/ckpt/pruned_model --out served/ --threads 1
"""

from __future__ import annotations

import argparse
import copy
import shutil
import sys
import tempfile
from pathlib import Path

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m trainables.sparse",
                                     description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    convert = sub.add_parser("convert", help="write the sparse form of a baked model folder")
    convert.add_argument("model_dir", help="a Hugging Face folder (config.json + weights)")
    convert.add_argument("--out", required=True, help="the folder to write (must not exist)")
    convert.add_argument("--batch-size", type=int, default=32, help="rows per call (32)")
    convert.add_argument("--length", type=int, default=128, help="tokens per row (128)")
    convert.add_argument("--threads", type=int, default=1, help="torch threads (1)")
    convert.add_argument("--storage", default="./experiments",
                         help="timings are cached under STORAGE/_artifacts/sparse_timings")
    convert.add_argument("--no-cache", action="store_true", help="time every layer afresh")
    return parser


def _usage_error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _check(args: argparse.Namespace) -> str | None:
    model_dir, out = Path(args.model_dir), Path(args.out)
    if not (model_dir / "config.json").is_file():
        return f"MODEL_DIR {str(model_dir)!r} must be a model folder with config.json"
    if out.exists():
        return f"--out {str(out)!r} must not exist (nothing is overwritten)"
    for name in ("batch_size", "length", "threads"):
        if getattr(args, name) < 1:
            return f"--{name.replace('_', '-')} must be >= 1, but got {getattr(args, name)}"
    return None


def keep_dense(plan) -> None:
    """The whole model ran slower sparse than dense: serve it dense (never slower).

    Layers can each win alone and still lose together (the transposed outputs cost copies
    downstream), so the per-layer verdicts are overruled; the measured figures stay.
    """
    slower = plan.speed["speedup"]
    for record in plan.layers.values():
        if record["kernel"] != "dense":
            record.update(kernel="dense", reason=f"whole model {slower:.2f}x sparse: kept dense")
    plan.speed["kept_dense"] = True


def convert(args: argparse.Namespace) -> int:
    """Copy, sparsify, measure, write; returns the exit code."""
    import torch
    from transformers import AutoModelForSequenceClassification

    from trainables.latency import paired_latency_ms
    from trainables.sparse.convert import save_plan, serving_batch, sparsify
    from trainables.sparse.timing import TimingCache, default_cache_dir

    torch.set_num_threads(args.threads)
    model_dir, out = Path(args.model_dir), Path(args.out)
    dense = AutoModelForSequenceClassification.from_pretrained(str(model_dir)).eval()
    limit = dense.config.max_position_embeddings
    if args.length > limit:
        return _usage_error(f"--length must be <= the model's {limit} positions, "
                            f"but got {args.length}")
    cache = TimingCache(None if args.no_cache else default_cache_dir(args.storage))
    tensors = serving_batch(dense, args.batch_size, args.length)
    sparse, plan = sparsify(copy.deepcopy(dense), args.batch_size * args.length, cache=cache,
                            tune_inputs=tensors)
    with torch.no_grad():
        diff = (sparse(**tensors).logits - dense(**tensors).logits).abs().max().item()
    speed = paired_latency_ms(sparse, tensors, device=torch.device("cpu"), dense=dense,
                              batch_size=args.batch_size)
    plan.speed = {**speed, "batch_size": args.batch_size, "length": args.length,
                  "threads": args.threads, "max_abs_diff": diff}
    if speed["speedup"] < 1.0 and plan.sparse_layers():
        keep_dense(plan)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}-"))
    try:
        shutil.copytree(model_dir, staging, dirs_exist_ok=True)
        save_plan(plan, staging)
        staging.replace(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    print(f"sparse model written to {out}: {plan.summary()} "
          f"(batch {args.batch_size}, length {args.length}, {args.threads} thread(s), cpu; "
          f"max |logit difference| {diff:.2e})")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    problem = _check(args)
    if problem is not None:
        return _usage_error(problem)
    return convert(args)


if __name__ == "__main__":
    sys.exit(main())
