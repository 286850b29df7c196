"""CAP step time against the dense fine-tune step, where the time goes, and bank costs.

    python benchmarks/cap_speed.py [--model minilm] [--batch 32] [--length 64] [--threads 1]
        [--repeats 15] [--rows 4000] [--fp32] [--startup-rows 2000] [--skip-steps]
        [--skip-encoding]

1. Step time: one full training step (forward, loss, backward, clip, AdamW) on the same
   model, batch and length (random tokens, no padding), bf16 autocast unless ``--fp32``;
   every variant in the same process, interleaved step by step, median over ``--repeats``:
   dense | CAP-m | CAP-m with cached teacher outputs (KD reads the batch's rows of the
   shared teacher logits; goal <= 1.12x) | CAP-soft | CAP-m without KD | without banks |
   without masks | masks only (plain movement pruning, no KD). Masks at the final threshold
   (keep 10% / sigmoid 0.1), banks at dev scale (``--rows`` rows, PrC + FiC + a full SnC of ``--epochs - 1`` columns),
   the scripts' 4096 extra examples. Ratios are to the dense step (goal: CAP <= 1.5x).
2. Bank encoding: one pass over ``--rows`` rows at the training batch size, as at the start of
   every epoch (snapshot, train mode) and before training (PrC, FiC: eval mode).
3. Bank host memory: measured at dev scale, projected for full QQP (363,846 rows) with
   BERT-base (768) and MiniLM (384), 10 epochs, float32 and float16; and what the shared
   artifacts save: PrC + FiC + teacher per node, per-trial copies vs one shared copy.
4. Trial start-up (``--startup-rows``): PrC + FiC time in the trainable's ``setup`` with the
   caches off, for the first trial of a sweep (builds the shared artifacts) and for the
   second and third (goal: 0 s of encoding, memory maps only).

Writes benchmarks/out/cap_speed.json. The CPU of the machine this ran on is shared: the
load average is recorded before and after; compare ratios, not absolute times.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "out" / "cap_speed.json"
QQP_ROWS = 363_846
BERT_BASE_PARAMS = 109_483_778  # BertForSequenceClassification, bert-base-uncased, 2 labels
# variant -> (pruning method or None for an unwrapped model, KD on ("cached": the teacher's
# logits read from a shared artifact by row, trainables.cap.teacher_outputs), banks on)
VARIANTS = {
    "dense": (None, False, False),
    "cap-m": ("topk", True, True),
    "CAP-m with cached teacher outputs": ("topk", "cached", True),
    "cap-soft": ("soft", True, True),
    "cap-m no KD": ("topk", False, True),
    "cap-m no banks": ("topk", True, False),
    "cap-m no masks": (None, True, True),
    "masks only (movement)": ("topk", False, False),
}


def make_cfg(args, method: str | None, kd: bool, banks: bool):
    from trainables.cap.config import CapConfig

    return CapConfig(task="qqp", model=args.model, train_batch_size=args.batch,
                     max_seq_length=args.length, bf16=not args.fp32,
                     pruning_method=method or "topk",
                     final_threshold=0.1,  # keep 10% (topk) / sigmoid 0.1 (soft)
                     distill_loss_weight=0.9 if kd else 0.0, use_contrastive=banks)


def fake_banks(cfg, rows: int, hidden: int, epochs: int):
    """TrialBanks at dev scale filled with random unit vectors (encoding is timed apart)."""
    import torch

    from trainables.cap.memory import TrialBanks
    from trainables.data import TaskData
    from trainables.tasks import get_task

    data = TaskData(get_task("qqp"), {"idx": torch.arange(rows)}, {}, "speed")
    banks = TrialBanks(cfg, data, hidden, epochs, torch.device("cpu"))
    labels = torch.randint(0, 2, (rows,))
    for bank, columns in ((banks.pretrained, 1), (banks.finetuned, 1),
                          (banks.snapshots, epochs - 1)):
        for _ in range(columns):
            vectors = torch.nn.functional.normalize(torch.randn(rows, hidden), dim=-1)
            bank.append(vectors, labels)
    return banks


def _steady_cap():
    """CapTraining at a fixed point of its schedule: the final threshold and, for soft
    pruning, the L1 term at full weight (the schedule's per-step cost is nil)."""
    from trainables.cap.training import CapTraining

    class SteadyCap(CapTraining):
        def threshold(self, step: int) -> float:
            return self.cfg.final_threshold

        def penalty(self, step: int) -> float:
            return 100.0 if self.cfg.pruning_method == "soft" else 0.0

    return SteadyCap


def build_variant(args, name: str, teacher, banks_cache: dict):
    """(model, loss_fn, optimizer, state) for one variant."""
    import torch

    from trainables.cap.masked import PruningState, wrap_bert
    from trainables.cap.training import param_groups
    from trainables.finetune import Plan
    from trainables.method import default_param_groups
    from trainables.models import load_classifier

    method, kd, use_banks = VARIANTS[name]
    cfg = make_cfg(args, method, bool(kd), use_banks)
    if kd == "cached":  # what a trial reads instead of running the teacher
        from trainables.cap.teacher_outputs import CachedTeacher

        logits = torch.randn(args.rows, 2, generator=torch.Generator().manual_seed(2))
        teacher = CachedTeacher(logits, None, 0.0, False)
    model = load_classifier(args.model, 2, seed=0)
    state = PruningState(cfg.pruning_method, cfg.final_threshold)
    if method is not None:
        model = wrap_bert(model, state)
    if name == "dense":
        def loss_fn(m, batch, step):
            inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
            return torch.nn.functional.cross_entropy(m(**inputs).logits.float(),
                                                     batch["labels"])
        groups = default_param_groups(model, cfg)
    else:
        banks = banks_cache.setdefault("banks", fake_banks(
            cfg, args.rows, model.config.hidden_size, args.epochs)) if use_banks else None
        plan = Plan(steps_per_epoch=100, total_steps=1000, warmup_steps=0, eval_every=100)
        training = _steady_cap()(cfg, None, model, state, teacher if kd else None, plan, banks)
        loss_fn = training.loss
        groups = param_groups(model, cfg) if method is not None else \
            default_param_groups(model, cfg)
    optimizer = torch.optim.AdamW(groups, lr=3e-5, weight_decay=0.0)
    return model.train(), loss_fn, optimizer


def step_time(model, loss_fn, optimizer, batch, bf16: bool) -> float:
    import torch

    from trainables.runtime import autocast

    start = time.perf_counter()
    with autocast(torch.device("cpu"), bf16):
        loss = loss_fn(model, batch, 0)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def random_batch(args, rows: int):
    import torch

    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, 20000, (args.batch, args.length), generator=g)
    ids[:, 0] = 101
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids),
            "token_type_ids": torch.zeros_like(ids),
            "labels": torch.randint(0, 2, (args.batch,), generator=g),
            "idx": torch.randperm(rows, generator=g)[: args.batch]}


def bench_steps(args) -> dict:
    from trainables.models import load_classifier

    teacher = load_classifier(args.model, 2, seed=1).eval().requires_grad_(False)
    cache: dict = {}
    variants = {name: build_variant(args, name, teacher, cache) for name in VARIANTS}
    batch = random_batch(args, args.rows)
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for repeat in range(args.repeats + 2):
        for name, (model, loss_fn, optimizer) in variants.items():
            seconds = step_time(model, loss_fn, optimizer, batch, not args.fp32)
            if repeat >= 2:  # the first steps pay for allocation
                times[name].append(seconds)
    dense = statistics.median(times["dense"])
    return {name: {"median_s": statistics.median(t), "ratio_to_dense":
                   statistics.median(t) / dense, "min_s": min(t)} for name, t in times.items()}


def bench_encoding(args) -> dict:
    import torch

    from trainables.cap.banks import MemoryBank
    from trainables.cap.masked import PruningState, wrap_bert
    from trainables.data import batches
    from trainables.models import load_classifier
    from trainables.runtime import autocast

    g = torch.Generator().manual_seed(1)
    ids = torch.randint(1000, 20000, (args.rows, args.length), generator=g)
    data = {"input_ids": ids, "attention_mask": torch.ones_like(ids),
            "token_type_ids": torch.zeros_like(ids),
            "labels": torch.randint(0, 2, (args.rows,), generator=g),
            "idx": torch.arange(args.rows)}
    student = wrap_bert(load_classifier(args.model, 2), PruningState("topk", 0.1))
    teacher = load_classifier(args.model, 2).eval()
    result = {}
    for name, model, train_mode in (("snapshot (student, train mode)", student, True),
                                    ("PrC (student, eval mode)", student, False),
                                    ("FiC (teacher, eval mode)", teacher, False)):
        bank = MemoryBank(args.rows, model.config.hidden_size)
        start = time.perf_counter()
        with autocast(torch.device("cpu"), not args.fp32):
            bank.encode(model, batches(data, args.batch, shuffle=False), "cls",
                        train_mode=train_mode)
        result[name] = time.perf_counter() - start
    return result


def bank_memory(args, hidden: int) -> dict:
    """Measured at dev scale; projected for full QQP (float32 / float16)."""
    from trainables.cap.config import CapConfig

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    banks = fake_banks(CapConfig(), args.rows, hidden, args.epochs)
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    columns = 2 + (args.epochs - 1)
    formula = args.rows * columns * hidden * 4 + 3 * args.rows * 8

    def project(rows: int, dim: int, epochs: int, nbytes: int) -> float:
        return rows * (2 + epochs - 1) * dim * nbytes + 3 * rows * 8

    return {
        "dev_scale": {"rows": args.rows, "hidden": hidden, "columns": columns,
                      "nbytes": banks.nbytes, "formula_bytes": formula,
                      "peak_rss_growth_bytes": (rss_after - rss_before) * 1024},
        "full_qqp_projection_bytes": {
            f"{name} d={dim}, 10 epochs, {dtype}": project(QQP_ROWS, dim, 10, size)
            for name, dim in (("bert-base", 768), ("minilm", 384))
            for dtype, size in (("float32", 4), ("float16", 2))},
    }


def bench_startup(args) -> dict:
    """PrC + FiC at trial start: per trial (caches off), then the first trial of a sweep
    (builds the shared artifacts) and later ones (memory maps only), via the trainable's
    own ``setup`` on generated QQP rows with a saved ``--model`` as ``teacher_path``."""
    import tempfile

    from trainables.artifacts import ArtifactStore
    from trainables.cap.config import CapConfig
    from trainables.cap.teacher_outputs import CachedTeacher
    from trainables.cap.trainable import setup
    from trainables.models import load_classifier, load_tokenizer

    result: dict = {"rows": args.startup_rows}
    with tempfile.TemporaryDirectory(prefix="cap-startup-") as tmp:
        teacher = Path(tmp) / "teacher"
        load_classifier(args.model, 2, seed=1).save_pretrained(teacher)
        load_tokenizer(args.model).save_pretrained(teacher)
        storage = Path(tmp) / "storage"

        def config(**overrides):
            return CapConfig(task="qqp", model=args.model, synthetic_data=True,
                             max_train_examples=args.startup_rows, max_eval_examples=8,
                             max_seq_length=args.length, train_batch_size=args.batch,
                             bf16=not args.fp32, storage_root=str(storage),
                             teacher_path=str(teacher), num_threads=args.threads,
                             warmup_steps=0, measure_latency=False, **overrides)

        for name, cfg in (("per trial (caches off)", config(teacher_cache=False,
                                                            prc_cache=False)),
                          ("first trial (builds)", config()),
                          ("second trial", config()), ("third trial", config())):
            start = time.perf_counter()
            training = setup(cfg)
            result[name] = {
                "setup_s": time.perf_counter() - start,
                "encoding_s": sum(training.banks.encode_seconds),
                "shared_s": training.banks.shared_seconds,
                "teacher_model_loaded": not isinstance(training.teacher, CachedTeacher)}
            del training
        result["artifact_bytes"] = {
            info.kind: info.size_bytes for info in ArtifactStore.under_storage(storage).list()
            if info.kind.startswith("cap_")}
    return result


def sharing_memory(args, hidden: int, teacher_params: int) -> dict:
    """Host memory of PrC, FiC and the teacher per node: per-trial copies (before) against
    one shared copy of the files (after; trials no longer load the teacher at all), for
    ``k`` concurrent trials on a node. SnC stays per trial in both and is left out."""

    def scale(rows: int, dim: int, params: int, nbytes: int) -> dict:
        banks = 2 * rows * dim * nbytes + 2 * rows * 8  # PrC + FiC vectors and labels
        teacher = params * 4  # float32 weights (bf16 autocast keeps them float32)
        shared = banks + rows * 2 * 4  # + the teacher's logits, float32
        return {f"{k} trials": {"before_bytes": k * (banks + teacher), "after_bytes": shared}
                for k in (1, 2, 4, 8)}

    return {
        f"dev: {args.rows} rows, {args.model} (d={hidden}), float32":
            scale(args.rows, hidden, teacher_params, 4),
        f"paper: full QQP {QQP_ROWS} rows, bert-base (d=768), float32":
            scale(QQP_ROWS, 768, BERT_BASE_PARAMS, 4),
        f"paper: full QQP {QQP_ROWS} rows, bert-base (d=768), float16":
            scale(QQP_ROWS, 768, BERT_BASE_PARAMS, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--fp32", action="store_true")
    parser.add_argument("--skip-encoding", action="store_true")
    parser.add_argument("--skip-steps", action="store_true")
    parser.add_argument("--startup-rows", type=int, default=2000,
                        help="rows of the trial start-up measurement (0 skips it)")
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(args.threads)
    record = {"settings": vars(args), "load_before": os.getloadavg(), "cpus": os.cpu_count()}
    hidden = 384 if args.model == "minilm" else 768
    record["memory"] = bank_memory(args, hidden)
    from trainables.models import load_classifier

    params = sum(p.numel() for p in load_classifier(args.model, 2).parameters())
    record["sharing_memory"] = sharing_memory(args, hidden, params)
    if not args.skip_steps:
        record["steps"] = bench_steps(args)
    if args.startup_rows:
        record["startup"] = bench_startup(args)
    if not args.skip_encoding:
        record["encoding_s"] = bench_encoding(args)
    record["load_after"] = os.getloadavg()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2))
    print(f"load average before {record['load_before']}, after {record['load_after']}")
    for name, r in record.get("steps", {}).items():
        print(f"{name:34s} {1000 * r['median_s']:8.1f} ms  x{r['ratio_to_dense']:.2f}")
    startup = record.get("startup", {})
    for name, r in startup.items():
        if isinstance(r, dict) and "setup_s" in r:
            print(f"start-up, {startup['rows']} rows, {name}: setup {r['setup_s']:.1f} s, "
                  f"PrC+FiC encoding {r['encoding_s']:.1f} s, shared artifacts "
                  f"{r['shared_s']:.2f} s, teacher model loaded: {r['teacher_model_loaded']}")
    if startup:
        print(f"shared artifact files: {startup['artifact_bytes']}")
    for scale, rows in record["sharing_memory"].items():
        cells = ", ".join(f"{k}: {r['before_bytes'] / 2**20:.0f} -> {r['after_bytes'] / 2**20:.0f}"
                          for k, r in rows.items())
        print(f"PrC+FiC+teacher host MiB per node, before -> after ({scale}): {cells}")
    for name, seconds in record.get("encoding_s", {}).items():
        print(f"encode {args.rows} rows, {name}: {seconds:.1f} s")
    print(json.dumps(record["memory"], indent=2))


if __name__ == "__main__":
    main()
