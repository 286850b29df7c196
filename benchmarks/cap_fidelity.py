"""CAP fidelity on real QQP: CAP-m vs plain movement pruning, and CAP-soft's sparsity knob.

    python benchmarks/cap_fidelity.py [--part topk|soft|matched|reference|all]
        [--data-dir DIR] [--train-examples 4000] [--eval-examples 1000] [--storage DIR]
        [--seeds 0,1,2] [--lambdas 100,300,1000,3000] [--cap-lambdas 1000]
        [--movement-lambdas 1000] [--target-sparsity 0.9 [--lambda-control]] [--tolerance 0.01]
        [--threads 1]
        [--steps 0] [--teacher-steps 0] [--lr 3e-5] [--out FILE]

Every run is the ``cap`` trainable with the ``dev`` profile of ``cap_topk_qqp`` /
``cap_soft_qqp`` (MiniLM-L6; by default 4000 QQP training rows, 1000 validation rows
(``--train-examples``, ``--eval-examples``), read from ``--data-dir`` (default
../shared/data/glue/parquet), length 64, bf16,
batch 32, 3 epochs = 375 steps, warm-up 10% with the scripts' 2 + 3 flat warm-ups, score
lr 0.1) and the scripts' CAP settings (tau 0.1, w_u 0.1, w_s 10, CE 0.1, KD 0.9 at T 2,
4096 extra examples). ``--steps`` / ``--teacher-steps`` > 0 shorten the runs / the
teacher's fine-tune (3 epochs by default) to that many steps (a quick check).

1. ``topk``: keep ratio 0.1 (90% sparsity), per seed: CAP-m and movement pruning (the same
   run with ``use_contrastive`` false: KD kept, no banks). Same teacher, same steps.
2. ``soft``: CAP-soft at each ``--lambdas`` value (seed 0): the sparsity reached.
3. ``matched``: CAP-soft (at each ``--cap-lambdas``) against soft movement pruning (the same
   run with ``use_contrastive`` false, at each ``--movement-lambdas``), per seed: the paper's
   other pair of rows, compared at matched sparsity by choosing one lambda per arm.
   With ``--target-sparsity S`` the first lambda of each list is only a starting point:
   each arm's lambda is tuned on the first seed (up to 4 runs, a log-linear step from the
   sparsity reached) until its weight sparsity is within ``--tolerance`` of S, and the
   other seeds then run at the lambda found.
4. ``reference``: the dense teacher pruned without retraining, by |weight| and at random,
   at several keep ratios (how fragile the model is to unstructured pruning).

Parts can run in parallel processes (one thread each on a shared CPU: two threads per
process are several times slower when the cores are contended). Prints mean +- sample std
per arm and the soft sparsities, and writes every run to ``--out`` (default
~/.cache/prunesweep/bench/cap_fidelity_<part>.json, outside the repository; finished runs
are skipped when rerun, written atomically). The teacher is the shared ``teacher`` artifact
under ``--storage`` (built once). Nothing is copied into the repo. (CAP has no pruner
network: unlike smp_fidelity.py this script takes no ``--pruner``.)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GLUE = REPO.parent / "shared" / "data" / "glue" / "parquet"
OUT_DIR = Path("~/.cache/prunesweep/bench")
# The shipped GLUE scripts' CAP settings (methods.md 2.11), for every searched parameter.
SCRIPT_VALUES = {"contrastive_temperature": 0.1, "cl_unsupervised_loss_weight": 0.1,
                 "cl_supervised_loss_weight": 10.0, "ce_loss_weight": 0.1,
                 "distill_loss_weight": 0.9, "extra_examples": 4096}
KEEP_RATIO = 0.1  # 90% sparsity
# d(weight sparsity) / d ln(final_lambda) near 90% in the 375-step QQP table (lambda 300 ->
# 0.73, 1000 -> 0.94): the step of the lambda search, clipped to a factor of 10.
SPARSITY_SLOPE = 0.18
TUNE_TRIES = 4
MATCHED_ARMS = (("cap-soft", True), ("soft-movement", False))


def run_config(args: argparse.Namespace, method: str, seed: int, **extra) -> dict:
    """The dev profile of ``cap_<method>_qqp`` with the scripts' values and this run's."""
    import search_spaces

    overrides = {**SCRIPT_VALUES, "data_dir": str(args.data_dir), "synthetic_data": False,
                 # the figures in the notes were taken at 4000 training rows
                 "max_train_examples": args.train_examples,
                 "max_eval_examples": args.eval_examples,
                 "storage_root": args.storage, "seed": seed, "num_threads": args.threads,
                 "measure_latency": False, **extra}
    if args.steps:
        overrides.update(max_steps=args.steps, eval_every=args.steps)
    if args.teacher_steps:
        overrides["teacher_max_steps"] = args.teacher_steps
    if args.lr:
        overrides["learning_rate"] = args.lr  # the students' weights (the teacher keeps its own)
    if args.scores_lr:
        overrides["mask_scores_learning_rate"] = args.scores_lr
    return search_spaces.get_space(f"cap_{method}_qqp").settings("dev", overrides)


def runs(args: argparse.Namespace) -> list[tuple[str, dict]]:
    plan = []
    if args.part in ("topk", "all"):
        for seed in args.seeds:
            for arm, contrastive in (("cap-m", True), ("movement", False)):
                plan.append((f"{arm}/seed{seed}", run_config(
                    args, "topk", seed, final_threshold=KEEP_RATIO,
                    use_contrastive=contrastive)))
    if args.part in ("soft", "all"):
        for lam in args.lambdas:
            plan.append((f"cap-soft/lambda{lam:g}",
                         run_config(args, "soft", 0, final_lambda=lam)))
    if args.part in ("matched", "all") and args.target_sparsity is None:
        for seed in args.seeds:
            for arm, contrastive, lambdas in (("cap-soft", True, args.cap_lambdas),
                                              ("soft-movement", False, args.movement_lambdas)):
                for lam in lambdas:
                    plan.append((f"{arm}/lambda{lam:g}/seed{seed}", run_config(
                        args, "soft", seed, final_lambda=lam, use_contrastive=contrastive)))
    return plan


def pruning_reference(args: argparse.Namespace) -> dict:
    """The dense teacher pruned without retraining: by |weight| and by random scores.

    Shows how fragile the model is to unstructured pruning, which a short movement-pruning
    run (scores start at 0, so early masks are close to random) has to recover from.
    """
    import torch

    from trainables.cap import PruningState, masked_linears, wrap_bert
    from trainables.cap.config import CapConfig
    from trainables.config import from_mapping
    from trainables.evaluation import evaluate
    from trainables.models import load_classifier
    from trainables.prepare import prepare

    torch.set_num_threads(args.threads)
    prep = prepare(from_mapping(CapConfig, run_config(args, "topk", 0)))
    folder = teacher_folder(args.storage)
    result = {}
    for rule in ("magnitude", "random"):
        for keep in (1.0, 0.9, 0.7, 0.5, 0.1):
            model = wrap_bert(load_classifier(str(folder), 2), PruningState("topk", keep))
            generator = torch.Generator().manual_seed(0)
            for module in masked_linears(model):
                module.mask_scores.data = module.weight.detach().abs() if rule == "magnitude" \
                    else torch.randn(module.weight.shape, generator=generator)
            metrics = evaluate(model, prep.data, batch_size=128, device=prep.device, bf16=True)
            result[f"{rule}/keep{keep:g}"] = metrics["score"]
            print(f"   teacher, {rule} pruning, keep {keep:g}: score {metrics['score']:.4f}",
                  flush=True)
    return result


def run_one(config: dict) -> dict:
    from trainables.cap.trainable import run
    from trainables.reporting import RecordingReporter

    class Final(RecordingReporter):  # metrics only: checkpoints would cost disk and time
        def __call__(self, metrics, checkpoint_dir=None):
            self.metrics.append(dict(metrics))

    rec = Final()
    start = time.perf_counter()
    run(config, rec)
    final = rec.metrics[-1]
    keys = ("method", "seed", "step", "score", "accuracy", "f1", "eval_loss", "weight_sparsity",
            "head_sparsity", "params_remaining", "params_total", "train_time_s", "bank_bytes",
            "lambda_scale")
    return {**{k: final.get(k) for k in keys}, "wall_s": time.perf_counter() - start,
            "history": [{k: m.get(k) for k in ("step", "score", "weight_sparsity")}
                        for m in rec.metrics]}


def teacher_folder(storage: str) -> Path:
    from trainables.artifacts import ArtifactStore

    found = [info.path for info in ArtifactStore.under_storage(storage).list()
             if info.kind == "teacher"]
    if len(found) != 1:
        raise SystemExit(f"expected one teacher under {storage}, found {len(found)}; "
                         "run --part topk first (it builds the teacher)")
    return found[0]


def teacher_score(storage: str) -> dict:
    from trainables.artifacts import ArtifactStore

    for info in ArtifactStore.under_storage(storage).list():
        if info.kind == "teacher":
            metrics = json.loads((info.path / "metrics.json").read_text())["metrics"]
            return {"score": metrics.get("score"), "accuracy": metrics.get("accuracy"),
                    "f1": metrics.get("f1"), "build_s": info.build_s}
    return {}


def summarise(results: dict) -> str:
    lines = ["arm        runs  score mean +- std   weight_sparsity"]
    for arm in ("cap-m", "movement"):
        rows = [r for name, r in results.items() if name.startswith(f"{arm}/")]
        if not rows:
            continue
        scores = [r["score"] for r in rows]
        std = statistics.stdev(scores) if len(scores) > 1 else float("nan")
        sparsity = statistics.mean(r["weight_sparsity"] for r in rows)
        lines.append(f"{arm:10s} {len(rows):4d}  {statistics.mean(scores):.4f} +- {std:.4f}"
                     f"     {sparsity:.4f}")
    soft = sorted(((r.get("lambda"), r) for name, r in results.items()
                   if name.startswith("cap-soft/") and name.count("/") == 1),
                  key=lambda x: x[0])
    if soft:
        lines.append("cap-soft final_lambda -> weight_sparsity (head_sparsity), score")
        for lam, r in soft:
            lines.append(f"  {lam:8g} -> {r['weight_sparsity']:.4f} ({r['head_sparsity']:.3f}), "
                         f"{r['score']:.4f}")
    matched: dict[tuple[str, float], list[dict]] = {}
    for name, r in results.items():
        if name.count("/") == 2:  # <arm>/lambda<x>/seed<s>
            matched.setdefault((name.split("/")[0], r["lambda"]), []).append(r)
    if matched:
        lines.append("matched sparsity: arm, final_lambda, runs, score mean +- std, "
                     "weight_sparsity mean +- std (per seed)")
        for (arm, lam), rows in sorted(matched.items()):
            scores = [r["score"] for r in rows]
            sparsities = [r["weight_sparsity"] for r in rows]
            def spread(xs: list[float]) -> float:
                return statistics.stdev(xs) if len(xs) > 1 else float("nan")
            lines.append(
                f"  {arm:13s} {lam:7g} {len(rows)}  {statistics.mean(scores):.4f} +- "
                f"{spread(scores):.4f}  {statistics.mean(sparsities):.4f} +- "
                f"{spread(sparsities):.4f}  ({' '.join(f'{x:.4f}' for x in scores)}; "
                f"{' '.join(f'{x:.4f}' for x in sparsities)})")
    return "\n".join(lines)


def execute(args: argparse.Namespace, record: dict, out: Path, name: str,
            config: dict) -> dict:
    """Run ``config`` under ``name`` unless the record already has it; return its result."""
    if name in record["runs"]:
        return record["runs"][name]
    print(f"== {name}", flush=True)
    result = run_one(config)
    if "lambda" in name:
        result["lambda"] = config["final_lambda"]
    record["runs"][name] = result
    record["settings"] = {k: v for k, v in config.items()
                          if k not in ("final_lambda", "seed", "use_contrastive")}
    record["teacher"] = teacher_score(args.storage)
    write_atomic(out, record)
    print(f"   score {result['score']:.4f} sparsity {result['weight_sparsity']:.4f} "
          f"in {result['wall_s']:.0f}s", flush=True)
    return result


def matched_at_target(args: argparse.Namespace, record: dict, out: Path) -> dict[str, float]:
    """Tune each soft arm's lambda on the first seed to ``--target-sparsity``, then run the
    other seeds at it. Returns the lambda chosen per arm."""
    import math

    first, chosen = args.seeds[0], {}
    starts = {"cap-soft": args.cap_lambdas[0], "soft-movement": args.movement_lambdas[0]}
    if args.lambda_control:  # every run steers itself to the target: no tuning runs
        for seed in args.seeds:
            for arm, contrastive in MATCHED_ARMS:
                if arm not in args.arms:
                    continue
                execute(args, record, out, f"{arm}/lambda{starts[arm]:g}+control/seed{seed}",
                        run_config(args, "soft", seed, final_lambda=starts[arm],
                                   use_contrastive=contrastive, lambda_control=True,
                                   lambda_control_target=args.target_sparsity))
        return starts
    for arm, contrastive in MATCHED_ARMS:
        lam = starts[arm]
        for _ in range(TUNE_TRIES):
            result = execute(args, record, out, f"{arm}/lambda{lam:g}/seed{first}", run_config(
                args, "soft", first, final_lambda=lam, use_contrastive=contrastive))
            gap = args.target_sparsity - result["weight_sparsity"]
            print(f"   {arm}: lambda {lam:g} -> sparsity {result['weight_sparsity']:.4f}",
                  flush=True)
            if abs(gap) <= args.tolerance:
                break
            step = max(-math.log(10), min(math.log(10), gap / SPARSITY_SLOPE))
            lam = float(f"{lam * math.exp(step):.3g}")
        chosen[arm] = lam  # after TUNE_TRIES misses: the last guess, run on every seed
    for seed in args.seeds:
        for arm, contrastive in MATCHED_ARMS:
            execute(args, record, out, f"{arm}/lambda{chosen[arm]:g}/seed{seed}", run_config(
                args, "soft", seed, final_lambda=chosen[arm], use_contrastive=contrastive))
    return chosen


def write_atomic(path: Path, record: dict) -> None:
    """Write the record through a temporary file, so a killed run never leaves half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=2, default=str))
    os.replace(tmp, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, default=GLUE,
                        help="GLUE data folder (default ../shared/data/glue/parquet)")
    parser.add_argument("--train-examples", type=int, default=4000,
                        help="QQP training rows (a fixed random subset)")
    parser.add_argument("--eval-examples", type=int, default=1000, help="QQP validation rows")
    parser.add_argument("--storage", default="/tmp/cap-fidelity")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--lambdas", default="100,300,1000,3000")
    parser.add_argument("--cap-lambdas", default="1000",
                        help="--part matched: CAP-soft's final_lambda value(s)")
    parser.add_argument("--movement-lambdas", default="1000",
                        help="--part matched: soft movement's final_lambda value(s)")
    parser.add_argument("--target-sparsity", type=float, default=None,
                        help="--part matched: tune each arm's lambda (from the first value of "
                             "its list) to this weight sparsity on the first seed")
    parser.add_argument("--lambda-control", action="store_true",
                        help="--part matched with --target-sparsity: run every seed with the "
                             "in-run lambda controller aimed at the target (lambda_control, "
                             "not in the paper) instead of tuning lambda on the first seed")
    parser.add_argument("--arms", default="cap-soft,soft-movement",
                        help="with --lambda-control: which matched arms to run (an arm that "
                             "misses the target can be rerun aimed elsewhere, to another --out)")
    parser.add_argument("--tolerance", type=float, default=0.01,
                        help="how close to --target-sparsity counts as matched")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=0)
    parser.add_argument("--teacher-steps", type=int, default=0)
    parser.add_argument("--lr", type=float, default=None,
                        help="the students' learning rate (default: the profile's 3e-5)")
    parser.add_argument("--scores-lr", type=float, default=None,
                        help="the mask scores' learning rate (default: the profile's 1e-2; "
                             "short runs need more to move the scores past the threshold)")
    parser.add_argument("--part", default="all",
                        choices=("topk", "soft", "matched", "reference", "all"))
    parser.add_argument("--out", help=f"default: {OUT_DIR}/cap_fidelity_<part>.json")
    args = parser.parse_args()
    args.seeds = [int(s) for s in args.seeds.split(",")]
    for name in ("lambdas", "cap_lambdas", "movement_lambdas"):
        try:
            setattr(args, name, [float(x) for x in getattr(args, name).split(",")])
        except ValueError:
            parser.error(f"--{name.replace('_', '-')} {getattr(args, name)!r}: "
                         "a comma-separated list of numbers")
    for name in ("train_examples", "eval_examples"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} {getattr(args, name)}: must be >= 1")
    if args.target_sparsity is not None and not 0 < args.target_sparsity < 1:
        parser.error(f"--target-sparsity {args.target_sparsity}: must be in (0, 1)")
    args.arms = [a.strip() for a in args.arms.split(",") if a.strip()]
    unknown = [a for a in args.arms if a not in dict(MATCHED_ARMS)]
    if unknown or not args.arms:
        parser.error(f"--arms {','.join(args.arms)!r}: choose from "
                     f"{','.join(a for a, _ in MATCHED_ARMS)}")
    if args.lambda_control and args.target_sparsity is None:
        parser.error("--lambda-control needs --target-sparsity (the controller's target)")
    if not args.tolerance > 0:
        parser.error(f"--tolerance {args.tolerance}: must be > 0")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    out = Path(args.out or OUT_DIR / f"cap_fidelity_{args.part}.json").expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    record = json.loads(out.read_text()) if out.is_file() else {"runs": {}}
    if args.part == "reference":
        record["reference"] = pruning_reference(args)
        write_atomic(out, record)
        return
    for name, config in runs(args):
        execute(args, record, out, name, config)
    if args.part in ("matched", "all") and args.target_sparsity is not None:
        record["tuned_lambdas"] = matched_at_target(args, record, out)
        write_atomic(out, record)
    print(f"teacher (dense MiniLM): {record.get('teacher')}")
    print(summarise(record["runs"]))


if __name__ == "__main__":
    main()
