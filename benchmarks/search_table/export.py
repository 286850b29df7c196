"""Append the finished trials of recorded sweeps to the committed search table.

    python benchmarks/search_table/export.py --storage /work/search-table-runs \
        search-table-cap-soft-sst2 [search-table-smp-sst2 ...] \
        [--repeats search-table-cap-soft-sst2-repeats ...]

Reads each experiment's Parquet rows (the product's own result files), keeps the trials that
have ended (a final, failed or pruned row; a trial still running waits for the next export),
and appends one CSV row per evaluation to ``benchmarks/search_table/<space>.csv``. The table
is append-only: rows already there (same experiment, trial and step) are never rewritten, and
the new file replaces the old one atomically. ``--repeats`` experiments hold configurations
of the main sweep run again with other seeds (to measure noise); their rows carry
``repeat = 1`` and ``repeat_of`` = ``experiment/trial`` of the main sweep's trial with the same
hyper-parameters.

Columns: space, experiment, trial_id, seed, repeat, repeat_of, status, step, total_steps,
fraction (step / total_steps), sparsity_settled, is_final, score, weight_sparsity,
head_sparsity, elapsed_s, train_time_s, then one ``param_<name>`` column per searched value.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

TABLE_DIR = Path(__file__).resolve().parent
BASE_COLUMNS = ("space", "experiment", "trial_id", "seed", "repeat", "repeat_of", "status",
                "step", "total_steps", "fraction", "sparsity_settled", "is_final", "score",
                "weight_sparsity", "head_sparsity", "elapsed_s", "train_time_s",
                # the evidence columns (schema v3) and the target a trial was aimed at; a table
                # started before them keeps its header (append-only) and ignores them
                "target_sparsity", "score_se", "eval_examples", "majority_score", "collapsed")
ENDED = ("completed", "failed", "diverged", "pruned")


def _settings(experiment_dir: Path) -> dict[str, Any]:
    record = json.loads((experiment_dir / "experiment.json").read_text())
    import search_spaces

    space = search_spaces.get_space(record["space"])
    return {"space": record["space"],
            "settings": space.settings(record["profile"], record.get("overrides") or {}),
            "searched": space.searched()}


def _total_steps(settings: dict[str, Any], trial: Any) -> int:
    """The trial's optimizer steps: ``max_steps`` when set, else the last recorded step."""
    if int(settings.get("max_steps") or 0) > 0:
        return int(settings["max_steps"])
    return int(trial["step"].max())


def _settled_from(settings: dict[str, Any], total: int) -> int:
    """First step at which the trial's sparsity no longer moves (what the scheduler needs).

    CAP's threshold schedule is flat for its last ``final_warmup`` warm-ups; SMP removes its
    heads before training, so its sparsity is settled from step 0.
    """
    if "final_warmup" not in settings and "pruning_method" not in settings:
        return 0
    warmup = int(settings.get("warmup_steps") or 0)
    if warmup <= 0:
        warmup = int(float(settings.get("warmup_ratio") or 0.0) * total)
    final_warmup = float(settings.get("final_warmup", 3.0))
    return int(total - final_warmup * warmup)


def trial_rows(experiment_dir: Path, repeat_of: dict[str, str] | None = None) -> list[dict]:
    """The table rows of every ended trial of one experiment, in (trial, step) order."""
    from analysis import schema as S
    from analysis.io import read_results

    info = _settings(experiment_dir)
    df = read_results(experiment_dir, strict=False)
    if df.empty:
        return []
    rows: list[dict] = []
    from analysis.fronts import decisive_rows

    last = decisive_rows(df).set_index(S.TRIAL_ID)
    ended = last[S.IS_FINAL].fillna(False).astype(bool) & last[S.STATUS].isin(ENDED)
    decisive = last[S.STATUS]
    for trial_id, trial in df.groupby(S.TRIAL_ID, sort=True):
        trial = trial.sort_values([S.STEP, S.ITERATION])
        if not ended.get(trial_id, False):
            continue  # still running (or retried by `resume`): exported once it ends
        # a terminal row a `resume` retry superseded (the trial went on and ended otherwise)
        # is not part of what the trial did
        stale = (trial[S.STATUS].isin(ENDED) & (trial[S.STATUS] != decisive[trial_id])
                 & trial[S.IS_FINAL].fillna(False).astype(bool))
        trial = trial[~stale]
        total = _total_steps(info["settings"], trial)
        settled = _settled_from(info["settings"], total)
        for _, r in trial.iterrows():
            step = int(r[S.STEP]) if r[S.STEP] == r[S.STEP] else 0
            row = {"space": info["space"], "experiment": experiment_dir.name,
                   "trial_id": trial_id, "seed": r.get(S.SEED),
                   "repeat": int(repeat_of is not None),
                   "repeat_of": (repeat_of or {}).get(trial_id, ""),
                   "status": r[S.STATUS], "step": step, "total_steps": total,
                   "fraction": round(step / total, 6) if total else "",
                   "sparsity_settled": int(step >= settled), "is_final": int(bool(r[S.IS_FINAL])),
                   "score": r.get(S.SCORE), "weight_sparsity": r.get(S.WEIGHT_SPARSITY),
                   "head_sparsity": r.get(S.HEAD_SPARSITY), "elapsed_s": r.get(S.ELAPSED_S),
                   "train_time_s": r.get(S.TRAIN_TIME_S),
                   "target_sparsity": r.get(S.TARGET_SPARSITY), "score_se": r.get(S.SCORE_SE),
                   "eval_examples": r.get(S.EVAL_EXAMPLES),
                   "majority_score": r.get(S.MAJORITY_SCORE),
                   "collapsed": _flag(r.get(S.COLLAPSED))}
            for name in info["searched"]:
                row[f"param_{name}"] = r.get(S.param_column(name))
            rows.append(row)
    return rows


def match_repeats(main_rows: list[dict], repeat_rows: list[dict]) -> dict[str, str]:
    """Repeat trial id -> ``experiment/trial`` of the main trial with the same searched values."""
    def key(row: dict) -> tuple:
        return tuple(sorted((k, _fmt(v)) for k, v in row.items() if k.startswith("param_")))

    main = {}
    for row in main_rows:
        main.setdefault(key(row), f"{row['experiment']}/{row['trial_id']}")
    return {row["trial_id"]: main.get(key(row), "") for row in repeat_rows}


def _flag(value: Any) -> Any:
    """A recorded bool as 0/1; a missing one (old rows) stays empty."""
    if value is None or (isinstance(value, float) and value != value):
        return None
    return int(bool(value))


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float):
        return f"{value:.9g}"
    return str(value)


def append_rows(table: Path, rows: list[dict]) -> int:
    """Append the rows not yet in ``table`` (by experiment, trial, step); atomic. Returns count."""
    existing_text = table.read_text() if table.exists() else ""
    existing = list(csv.DictReader(io.StringIO(existing_text))) if existing_text else []
    seen = {(r["experiment"], r["trial_id"], r["step"], r["is_final"]) for r in existing}
    new = [r for r in rows
           if (r["experiment"], r["trial_id"], str(r["step"]), str(r["is_final"])) not in seen]
    if not new:
        return 0
    params = sorted({k for r in rows for k in r if k.startswith("param_")})
    if existing_text:
        header = next(csv.reader(io.StringIO(existing_text)))
        missing = [p for p in params if p not in header]
        if missing:
            raise SystemExit(f"{table}: new parameter columns {missing}; the table is "
                             "append-only, export them to a new table")
    else:
        header = [*BASE_COLUMNS, *params]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, extrasaction="ignore", lineterminator="\n")
    if not existing_text:
        writer.writeheader()
    for row in new:
        writer.writerow({k: _fmt(v) for k, v in row.items()})
    fd, tmp = tempfile.mkstemp(dir=table.parent, prefix=f".{table.name}.")
    with os.fdopen(fd, "w") as handle:
        handle.write(existing_text + out.getvalue())
    os.replace(tmp, table)
    return len(new)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiments", nargs="+", help="experiment names under --storage")
    parser.add_argument("--storage", required=True)
    parser.add_argument("--repeats", nargs="*", default=[],
                        help="experiments re-running main-sweep configurations with other seeds")
    parser.add_argument("--out-dir", default=str(TABLE_DIR))
    args = parser.parse_args(argv)
    storage = Path(args.storage)
    for name in [*args.experiments, *args.repeats]:
        if not (storage / name / "experiment.json").is_file():
            print(f"error: {storage / name} is not an experiment folder", file=sys.stderr)
            return 2
    by_space: dict[str, list[dict]] = {}
    for name in args.experiments:
        rows = trial_rows(storage / name)
        if rows:
            by_space.setdefault(rows[0]["space"], []).extend(rows)
    for name in args.repeats:
        rows = trial_rows(storage / name, repeat_of={})
        if not rows:
            continue
        mapping = match_repeats(by_space.get(rows[0]["space"], []), rows)
        for row in rows:
            row["repeat_of"] = mapping.get(row["trial_id"], "")
        by_space.setdefault(rows[0]["space"], []).extend(rows)
    for space, rows in by_space.items():
        table = Path(args.out_dir) / f"{space}.csv"
        added = append_rows(table, rows)
        trials = len({(r["experiment"], r["trial_id"]) for r in rows})
        print(f"{table}: {added} new rows ({trials} ended trials in the experiments)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
