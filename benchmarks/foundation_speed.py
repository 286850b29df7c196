"""Training-step speed (fp32 vs bf16) and the per-trial fixed cost of a sweep.

    python benchmarks/foundation_speed.py steps [--threads 2]
    python benchmarks/foundation_speed.py fixed-cost [--steps 60] [--threads 2]

`steps`: for the tiny model and MiniLM at batch 32, lengths 64 and 128, the median time of a
full training step (forward, backward, clip, AdamW) in fp32 and in bf16 autocast, same process,
interleaved, and their ratio.

`fixed-cost`: a dense trial on real SST-2 (../shared/data/glue) in a fresh Python process, timed
by phase: process start and imports, data (tokenised, or read from the artifact cache), model
load, then the training itself. Run twice on one storage root: the first run builds the
tokenisation cache, the second reads it. Prints the fixed cost as a fraction of trial time.
"""

from __future__ import annotations

import argparse
import os
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GLUE = REPO.parent / "shared" / "data" / "glue" / "parquet"


def step_times(model_name: str, length: int, bf16: bool, model, batch, optimizer,
               repeats: int) -> list[float]:
    import torch

    from trainables.runtime import autocast

    device = torch.device("cpu")
    times = []
    for i in range(repeats + 2):
        start = time.perf_counter()
        with autocast(device, bf16):
            loss = torch.nn.functional.cross_entropy(model(**batch).logits.float(),
                                                     batch_labels(batch))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if i >= 2:
            times.append(time.perf_counter() - start)
    return times


def batch_labels(batch):
    import torch

    return torch.zeros(len(batch["input_ids"]), dtype=torch.long)


def cmd_steps(args: argparse.Namespace) -> None:
    import torch

    from trainables.models import load_classifier, load_tokenizer

    torch.set_num_threads(args.threads)
    print(f"# train step, batch 32, {args.threads} threads, median of {args.repeats} "
          "(fp32 and bf16 interleaved)")
    from trainables.runtime import cpu_has_native_bf16

    # This comparison measures bf16 even where trials would fall back to fp32.
    os.environ["PRUNESWEEP_CPU_BF16"] = "force"
    print(f"native CPU bf16: {cpu_has_native_bf16()} (without it trials compute in fp32)")
    print(f"{'model':<8} {'len':>4} {'fp32 s':>8} {'bf16 s':>8} {'fp32/bf16':>10}")
    for name in ("tiny", "minilm"):
        tokenizer = load_tokenizer(name)
        for length in (64, 128):
            text = ["the film was good and the music was fine " * 20] * 32
            enc = tokenizer(text, padding="max_length", truncation=True, max_length=length,
                            return_tensors="pt")
            batch = {k: enc[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
            model = load_classifier(name, 2)
            model.train()
            optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.0)
            fp32, bf16 = [], []
            for _ in range(args.rounds):  # interleave so drift hits both alike
                fp32 += step_times(name, length, False, model, batch, optimizer, args.repeats)
                bf16 += step_times(name, length, True, model, batch, optimizer, args.repeats)
            a, b = statistics.median(fp32), statistics.median(bf16)
            print(f"{name:<8} {length:>4} {a:>8.4f} {b:>8.4f} {a / b:>10.2f}")


PHASES = r"""
import time, json, sys
t0 = time.time()
import torch, transformers
from trainables.config import DenseConfig
from trainables.finetune import fine_tune
from trainables.models import load_classifier
from trainables.prepare import prepare
from trainables.reporting import RecordingReporter
t_imports = time.time()
cfg = DenseConfig(**json.loads(sys.argv[1]))
prep = prepare(cfg)
t_data = time.time()
model = load_classifier(cfg.model, prep.task.num_labels, seed=cfg.seed)
t_model = time.time()
fine_tune(cfg, model, prep.data, RecordingReporter(), device=prep.device)
t_end = time.time()
print(json.dumps({"imports": t_imports - t0, "data": t_data - t_imports,
                  "model": t_model - t_data, "train": t_end - t_model}))
"""


def run_phases(config: dict) -> dict[str, float]:
    start = time.time()
    out = subprocess.run([sys.executable, "-c", PHASES, json.dumps(config)], check=True,
                         capture_output=True, text=True, cwd=REPO)
    phases = json.loads(out.stdout.strip().splitlines()[-1])
    phases["process_start"] = (time.time() - start) - sum(phases.values())
    return phases


def cmd_fixed_cost(args: argparse.Namespace) -> None:
    if not GLUE.is_dir():
        raise SystemExit(f"needs the shared GLUE data at {GLUE}")
    storage = Path(tempfile.mkdtemp(prefix="fixed-cost-"))
    config = {"task": "sst2", "model": "minilm", "data_dir": str(GLUE), "max_seq_length": 64,
              "train_batch_size": 32, "max_steps": args.steps, "eval_every": args.steps,
              "max_eval_examples": 872, "bf16": True, "num_threads": args.threads,
              "measure_latency": False, "storage_root": str(storage)}
    print(f"# dense trial, SST-2 full train (67,349 rows) tokenised at length 64, MiniLM, "
          f"{args.steps} steps, {args.threads} threads")
    print(f"{'cache':<6} {'start':>6} {'imports':>8} {'data':>6} {'model':>6} {'train':>7} "
          f"{'fixed':>6} {'fixed/trial':>12}")
    for label in ("cold", "warm"):
        p = run_phases(config)
        fixed = p["process_start"] + p["imports"] + p["data"] + p["model"]
        total = fixed + p["train"]
        print(f"{label:<6} {p['process_start']:>6.2f} {p['imports']:>8.2f} {p['data']:>6.2f} "
              f"{p['model']:>6.2f} {p['train']:>7.2f} {fixed:>6.2f} {fixed / total:>12.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("steps")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--rounds", type=int, default=2)
    p.set_defaults(func=cmd_steps)
    p = sub.add_parser("fixed-cost")
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--threads", type=int, default=2)
    p.set_defaults(func=cmd_fixed_cost)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
