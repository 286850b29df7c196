"""SMP fidelity on real GLUE data: SMP mask vs a random mask vs the dense model.

    python benchmarks/smp_fidelity.py [--pruner meta-train|released-base|PATH]
        [--data-dir DIR] [--train-examples 4000] [--eval-examples 1000] [--mask-examples N]
        [--storage /tmp/smp-fidelity] [--meta-updates 120] [--steps 0] [--seeds 0,1,2]
        [--tasks sst2,mrpc] [--threads 1] [--arms ...] [--pair-representation pooler|mean]
        [--out FILE]

1. ``--pruner meta-train`` (the default) meta-trains a scaled-down pruner (MiniLM, the dev
   profile's meta settings: the five shared tasks, <= 1000 examples each, batch 16 x 2,
   ``--meta-updates`` updates) as the ``smp_pruner`` artifact under ``--storage`` (reused by
   a second invocation).
2. Scores the heads of each task's dev-profile training subset (the ``smp_scores``
   artifact) and takes the faithful per-layer mask at 50% of heads.
3. Fine-tunes, with the dev profile's settings and the same number of steps, three arms per
   seed: the SMP mask, a random mask with the same per-layer counts, and no mask (dense).
   ``--steps 0`` trains the dev profile's 3 epochs (of a 4000-example subset).
   ``--arms ...,inverse`` adds a diagnostic arm that keeps the *lowest*-scoring heads.
   All three go through the ``smp`` trainable's own loop; only the mask differs.

Prints mean +- sample std of each arm's score and writes every run to ``--out`` (default
~/.cache/prunesweep/bench/smp_fidelity.json, outside the repository; finished runs are
skipped when the script is rerun). Runs are keyed by task, arm, seed, steps, lr, the example
counts and, for the arms that read the pruner's scores (smp, inverse), the pruner. The GLUE
data is read from ``--data-dir`` (default ../shared/data/glue/parquet); nothing is copied
into the repo.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GLUE = REPO.parent / "shared" / "data" / "glue" / "parquet"
OUT = Path("~/.cache/prunesweep/bench/smp_fidelity.json")
ARMS = ("smp", "random", "dense", "inverse")  # inverse: a diagnostic, off by default
PRUNER_ARMS = ("smp", "inverse")  # the arms whose mask depends on the pruner's scores


def trial_config(args: argparse.Namespace, task: str, seed: int):
    """The dev profile of ``smp_<task>`` with this benchmark's fixed choices."""
    import search_spaces
    from trainables.config import from_mapping
    from trainables.smp import SmpConfig

    overrides = {"data_dir": str(args.data_dir), "storage_root": args.storage, "seed": seed,
                 # the figures in the notes were taken at 4000 training examples
                 "max_train_examples": args.train_examples,
                 "max_eval_examples": args.eval_examples, "pruner": args.pruner,
                 "mask_max_examples": args.mask_examples,
                 "learning_rate": args.lr, "prune_ratio": 0.5, "allocation": "per_layer",
                 # --steps 0: the dev profile's epochs, evaluated once per epoch
                 "max_steps": args.steps, "eval_every": args.steps, "measure_latency": False,
                 "num_threads": args.threads, "meta_updates": args.meta_updates,
                 "meta_pair_representation": args.pair_representation,
                 "synthetic_data": False}
    settings = search_spaces.get_space(f"smp_{task}").settings("dev", overrides)
    return from_mapping(SmpConfig, settings)


def random_mask(smp_keep, seed: int):
    """A random keep-mask with the SMP mask's per-layer head counts."""
    import torch

    gen = torch.Generator().manual_seed(1000 + seed)
    keep = torch.zeros_like(smp_keep)
    for layer, count in enumerate(smp_keep.sum(dim=1).tolist()):
        keep[layer, torch.randperm(smp_keep.shape[1], generator=gen)[:count]] = True
    return keep


def inverse_mask(scores, smp_keep):
    """Keep the lowest-scoring heads instead (same per-layer counts): if the pruner's ranking
    carries information, this arm should do worse than a random mask."""
    import torch

    order = torch.tensor(scores).argsort(dim=1)  # ascending
    keep = torch.zeros_like(smp_keep)
    for layer, count in enumerate(smp_keep.sum(dim=1).tolist()):
        keep[layer, order[layer, :count]] = True
    return keep


def smp_mask(cfg, notes: list[str]):
    """The task's SMP mask from the shared artifacts (and how long they took)."""
    import torch

    from trainables.prepare import prepare
    from trainables.smp import PruneRatioError
    from trainables.smp.artifacts import head_scores, keep_mask

    prep = prepare(cfg)
    start = time.perf_counter()
    scores = head_scores(cfg, prep.tokenizer, prep.store, prep.device, prep.data)
    seconds = time.perf_counter() - start
    try:
        keep = keep_mask(cfg, scores)
    except PruneRatioError as exc:  # ties: say so, and break them by head index
        notes.append(f"{cfg.task}: faithful rule failed ({exc}); used mask_exact_count=True")
        keep = keep_mask(dataclasses.replace(cfg, mask_exact_count=True), scores)
    spread = (scores.max(dim=1).values - scores.min(dim=1).values).tolist()
    return keep, {"scores": scores.tolist(), "per_layer_spread": spread,
                  "seconds_incl_pruner": seconds, "kept": keep.sum(dim=1).tolist(),
                  "mask": keep.to(torch.int).tolist()}


def fine_tune(cfg, keep) -> dict:
    from trainables.reporting import RecordingReporter
    from trainables.smp.trainable import train_smp

    class FinalOnly(RecordingReporter):
        def __call__(self, metrics, checkpoint_dir=None):  # no checkpoint copies
            self.metrics.append(dict(metrics))

    rec = FinalOnly()
    start = time.perf_counter()
    train_smp(cfg, rec, keep=keep)
    final = rec.metrics[-1]
    keys = ("score", "accuracy", "f1", "eval_loss", "head_sparsity", "weight_sparsity", "step")
    return {**{k: final.get(k) for k in keys}, "seconds": time.perf_counter() - start}


def pruner_summary(storage: str) -> list[dict]:
    """Build time and meta-training figures of the pruner artifacts under ``storage``."""
    from trainables.artifacts import ArtifactStore

    out = []
    for info in ArtifactStore.under_storage(storage).list():
        if info.kind == "smp_pruner":
            meta = json.loads((info.path / "meta.json").read_text())
            meta["first_losses"], meta["last_losses"] = meta["losses"][:5], meta["losses"][-5:]
            del meta["losses"]
            out.append({"key": info.key, "build_s": info.build_s, "meta": meta,
                        "updates": info.inputs["meta"]["updates"]})
    return out


def run_key(run: dict) -> tuple:
    """What identifies a finished run (a rerun with the same key is skipped)."""
    pruner = run.get("pruner", "meta-train") if run["arm"] in PRUNER_ARMS else None
    mask_rows = run.get("mask_examples") if run["arm"] in PRUNER_ARMS else None
    return (run["task"], run["arm"], run["seed"], run["steps"], run["lr"],
            run.get("train_examples", 4000), run.get("eval_examples", 1000), pruner, mask_rows)


def arm_label(run: dict) -> str:
    if run["arm"] not in PRUNER_ARMS:
        return run["arm"]
    rows = f",scored on {run['mask_examples']}" if run.get("mask_examples") else ""
    return f"{run['arm']}[{run.get('pruner', 'meta-train')}{rows}]"


def summarise(runs: list[dict], tasks: list[str]) -> list[str]:
    lines = [f"{'task':<6} {'arm':<28} {'n':>2} {'score mean':>11} {'std':>7}  per seed"]
    for task in tasks:
        labels = sorted({arm_label(r) for r in runs if r["task"] == task})
        for label in labels:
            scores = [r["score"] for r in runs if r["task"] == task and arm_label(r) == label]
            std = statistics.stdev(scores) if len(scores) > 1 else float("nan")
            per = " ".join(f"{s:.4f}" for s in scores)
            lines.append(f"{task:<6} {label:<28} {len(scores):>2} "
                         f"{statistics.mean(scores):>11.4f} {std:>7.4f}  per seed {per}")
    return lines


def write_atomic(path: Path, record: dict) -> None:
    """Write the record through a temporary file, so a killed run never leaves half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=2))
    os.replace(tmp, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pruner", default="meta-train",
                        help="meta-train (the dev profile's scaled-down pruner), released-base, "
                             "released-large or the path of a pruner checkpoint")
    parser.add_argument("--data-dir", type=Path, default=GLUE,
                        help="GLUE data folder (default ../shared/data/glue/parquet)")
    parser.add_argument("--train-examples", type=int, default=4000,
                        help="training rows per task (a fixed random subset)")
    parser.add_argument("--eval-examples", type=int, default=1000, help="dev rows per task")
    parser.add_argument("--mask-examples", type=int, default=None,
                        help="score the heads on a fixed random subset of this many training "
                             "rows (default: all of them, as the original's cal step)")
    parser.add_argument("--storage", default="/tmp/smp-fidelity")
    parser.add_argument("--meta-updates", type=int, default=120)
    parser.add_argument("--steps", type=int, default=0, help="0: the dev profile's epochs")
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--tasks", default="sst2,mrpc")
    parser.add_argument("--arms", default="smp,random,dense",
                        help="any of smp,random,dense,inverse (inverse keeps the lowest scores)")
    # 1 thread: on a shared, oversubscribed CPU two OpenMP threads ran up to 10x slower
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--pair-representation", default="pooler", choices=("pooler", "mean"),
                        help="how meta-training compares pair tasks (mean: not the original's)")
    parser.add_argument("--out", type=Path, default=OUT, help=f"default: {OUT}")
    args = parser.parse_args()
    bad_arms = sorted(set(args.arms.split(",")) - set(ARMS))
    if bad_arms:
        parser.error(f"--arms {args.arms!r}: unknown {', '.join(bad_arms)}; "
                     f"valid: {', '.join(ARMS)}")
    for name in ("train_examples", "eval_examples", "mask_examples"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} {getattr(args, name)}: must be >= 1")
    if args.pruner not in ("meta-train", "released-base", "released-large"):
        args.pruner = str(Path(args.pruner).expanduser().resolve())  # trials run elsewhere
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    tasks, seeds = args.tasks.split(","), [int(s) for s in args.seeds.split(",")]
    out = args.out.expanduser()
    record = json.loads(out.read_text()) if out.is_file() else {"runs": [], "masks": {}}
    record.update(settings={k: str(v) for k, v in vars(args).items()}, notes=[],
                  loadavg_start=os.getloadavg())
    out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    for task in tasks:
        keep, info = smp_mask(trial_config(args, task, seeds[0]), record["notes"])
        inverse = inverse_mask(info["scores"], keep)
        record["masks"][f"{task}/{args.pruner}/mask_examples={args.mask_examples}"] = info
        print(f"[fidelity] {task}: SMP keeps {info['kept']} heads per layer; score spread "
              f"per layer {[round(s, 5) for s in info['per_layer_spread']]}", flush=True)
        for seed in seeds:
            masks = {"smp": keep, "random": random_mask(keep, seed),
                     "dense": keep.new_ones(keep.shape), "inverse": inverse}
            for arm in args.arms.split(","):
                run = {"task": task, "arm": arm, "seed": seed, "steps": args.steps,
                       "lr": args.lr, "train_examples": args.train_examples,
                       "eval_examples": args.eval_examples, "pruner": args.pruner,
                       "mask_examples": args.mask_examples}
                if any(run_key(r) == run_key(run) for r in record["runs"]):
                    continue
                result = fine_tune(trial_config(args, task, seed), masks[arm])
                record["runs"].append({**run, **result})
                print(f"[fidelity] {task} {arm_label(run)} seed {seed}: score "
                      f"{result['score']:.4f} ({result['seconds']:.0f} s)", flush=True)
                write_atomic(out, record)
    record.update(loadavg_end=os.getloadavg(), wall_s=time.perf_counter() - started,
                  pruner=pruner_summary(args.storage))
    runs = [r for r in record["runs"] if (r["steps"], r["lr"], r.get("train_examples", 4000),
            r.get("eval_examples", 1000)) == (args.steps, args.lr, args.train_examples,
                                               args.eval_examples)]
    summary = summarise(runs, tasks)
    record.setdefault("summaries", {})[
        f"steps={args.steps} lr={args.lr} train={args.train_examples} "
        f"eval={args.eval_examples}"] = summary
    write_atomic(out, record)
    print("\n".join(summary + record["notes"]))


if __name__ == "__main__":
    main()
