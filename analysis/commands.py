"""The bodies of the CLI subcommands: compute, then render, then write and print.

Kept apart from :mod:`analysis.cli` so that ``--help`` imports neither pandas nor numpy.
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any
from typing import NamedTuple

from analysis import report
from analysis.errors import AnalysisError
from analysis.fronts import pareto_fronts
from analysis.io import Location
from analysis.io import experiment_info
from analysis.io import resolve
from analysis.layout import REPORT_DIR
from analysis.summary import summarize
from analysis.target_table import DEFAULT_TOLERANCE
from analysis.target_table import recorded_targets
from analysis.target_table import table_html
from analysis.target_table import table_markdown
from analysis.target_table import target_table as targets_table
from analysis.target_table import with_html_section


def report_location(experiments: Sequence[str], out: str | None, command: str) -> Location:
    """Where a command writes: ``--out``, else the single experiment's ``report/``.

    With several experiments ``--out`` is required: a joint report should not overwrite
    the first experiment's own report.
    """
    if out:
        return resolve(out)
    if len(experiments) > 1:
        raise AnalysisError(f"{command} over several experiments needs --out DIR")
    loc = resolve(experiments[0])
    return Location(loc.filesystem, loc.join(REPORT_DIR), f"{experiments[0]}/{REPORT_DIR}",
                    within=loc.path)


class Loaded(NamedTuple):
    """The experiments of a command, read one by one: each folder's rows and info."""

    sources: list[str]
    frames: list[Any]
    infos: list[dict[str, Any]]
    df: Any  # all rows together (``attrs``: files_read, files_total)


def load_each(args: argparse.Namespace) -> Loaded:
    """Read every experiment of ``args`` separately (to name each folder in notes), then
    together; warn when two of them are copies of one experiment."""
    import pandas as pd

    from analysis.io import read_experiment

    frames = [read_experiment(e, strict=args.strict, latest_only=args.latest_only,
                              all_files=args.all_files) for e in args.experiments]
    df = pd.concat(frames, ignore_index=True, sort=False) if len(frames) > 1 else frames[0]
    df.attrs = {k: sum(f.attrs[k] for f in frames) for k in ("files_read", "files_total")}
    for message in duplicate_experiments(args.experiments, frames):
        warnings.warn(message, stacklevel=2)
    return Loaded(list(args.experiments), frames, [experiment_info(e) for e in args.experiments],
                  df)


def duplicate_experiments(sources: Sequence[str], frames: Sequence[Any]) -> list[str]:
    """A message for each pair of experiments that are copies of one (same folder, or the
    same experiment name and trial ids): their trials would be merged and counted once."""
    from analysis import schema

    seen: dict[tuple[str, ...], str] = {}
    messages = []
    for source, frame in zip(sources, frames):
        loc = resolve(source)
        names = tuple(sorted(map(str, frame[schema.EXPERIMENT].dropna().unique())))
        trials = tuple(sorted(map(str, frame[schema.TRIAL_ID].unique())))
        for key in (("folder", loc.display if "://" in loc.display else loc.path),
                    ("rows", *names, "|", *trials)):
            if key in seen:
                messages.append(
                    f"{seen[key]} and {source} are two copies of one experiment "
                    f"({'the same folder' if key[0] == 'folder' else 'same name and trial ids'}"
                    f"): their trials are merged as one experiment's, not compared")
                break
            seen[key] = source
    return messages


#: Settings that set a trial's budget (from ``experiment.json`` settings) and the row column.
BUDGET_SETTINGS = ("max_train_examples", "max_eval_examples", "max_steps", "num_train_epochs",
                   "train_batch_size")


def budget_notes(loaded: Loaded) -> list[str]:
    """One note per task whose experiments differ in budget (profile, data, steps)."""
    from analysis import schema

    per_task: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for source, frame, info in zip(loaded.sources, loaded.frames, loaded.infos):
        settings = info.get("settings") if isinstance(info.get("settings"), Mapping) else {}
        final = frame[frame[schema.IS_FINAL].fillna(False).astype(bool)]
        for task, rows in frame.groupby(schema.TASK, dropna=False):
            budget: dict[str, Any] = {
                "profile": ",".join(sorted(map(str, rows[schema.PROFILE].dropna().unique())))
                or info.get("profile")}
            budget.update({k: settings[k] for k in BUDGET_SETTINGS if k in settings})
            steps = final[final[schema.TASK] == task][schema.STEP].dropna()
            if len(steps):
                budget["final step"] = int(steps.max())
            per_task.setdefault(str(task), []).append((source, budget))
    notes = []
    for task, budgets in per_task.items():
        if len(budgets) < 2:
            continue
        keys = sorted({k for _, b in budgets for k in b})
        # a setting only some experiments record (a trainable's default) is not compared
        differ = [k for k in keys if all(k in b for _, b in budgets)
                  and len({str(b[k]) for _, b in budgets}) > 1]
        if differ:
            parts = "; ".join(f"{src}: " + ", ".join(f"{k} {b.get(k, '?')}" for k in differ)
                              for src, b in budgets)
            notes.append(f"the experiments on {task} differ in budget ({parts}); their "
                         "fronts are not like for like")
    return notes


def recorded_baselines(loaded: Loaded) -> tuple[dict[str, Any], list[Any], list[str]]:
    """Majority scores per task (measured in the rows, else recorded in experiment.json: a
    :class:`analysis.baselines.Baseline`), the other references found (CAP teachers, the dense
    fine-tune an SMP sweep recorded: :mod:`analysis.dense_reference`), and notes on
    conflicts."""
    from analysis import baselines as bl
    from analysis import schema
    from analysis.dense_reference import dense_reference

    majority: dict[str, Any] = {}
    teachers: dict[tuple[str, str, float], Any] = {}  # (task, kind, score): each once
    notes = []
    for source, frame, info in zip(loaded.sources, loaded.frames, loaded.infos):
        for task, rows in frame.groupby(schema.TASK, dropna=True):
            base = bl.measured_majority(task, rows) or bl.majority_baseline(task, info)
            if base is not None and base.source.startswith(("experiment.json", bl.MEASURED)):
                known = majority.get(str(task))
                if known is not None and abs(known.score - base.score) > 1e-12:
                    notes.append(f"{source}: majority score {base.score:.4g} for {task} "
                                 f"({base.source}), another experiment {known.score:.4g} "
                                 f"({known.source}); using the first (evaluation sets differ)")
                majority.setdefault(str(task), base._replace(task=str(task)))
            dense = dense_reference(info, task)  # an SMP sweep's recorded dense fine-tune
            if dense is not None:
                teachers.setdefault((dense.task, dense.kind, dense.score), dense)
            methods = set(map(str, rows[schema.METHOD].dropna().unique()))
            if not any(m.startswith("cap") or "movement" in m for m in methods):
                continue
            models = rows[schema.MODEL].dropna()
            teacher = bl.teacher_baseline(resolve(source), info, task,
                                          models.iloc[0] if len(models) else None)
            if teacher is not None:
                teacher = teacher._replace(task=str(task))
                teachers.setdefault((teacher.task, teacher.kind, teacher.score), teacher)
    return majority, list(teachers.values()), notes


def pareto(
    args: argparse.Namespace,
    loaded: Loaded,
    objectives: Mapping[str, str],
    refs: Mapping[str, float],
    group_by: Sequence[str],
) -> int:
    """Fronts per task and group (and across groups): print them and write the report."""
    out = report_location(args.experiments, args.out, "pareto")
    df = loaded.df
    fronts = pareto_fronts(df, objectives, group_by, include_collapsed=args.include_collapsed)
    majority, teachers, notes = recorded_baselines(loaded)
    notes += budget_notes(loaded)
    summary = summarize(fronts, refs, majority, teachers)
    info = loaded.infos[0] if len(args.experiments) == 1 else {}
    pinned = report.pinned_line(dict(zip(loaded.sources, loaded.infos)))
    files = {
        "pareto.parquet": report.parquet_bytes(report.front_table(fronts)),
        "pareto.csv": report.csv_bytes(report.front_table(fronts)),
        "summary.md": report.markdown_report(fronts, summary, args.experiments, info,
                                             notes, pinned).encode(),
    }
    targets = recorded_targets(df)  # sweeps run with --targets: their table joins the report
    if targets:
        table = targets_table(df, targets, teacher_scores=_teacher_scores(teachers))
        files["summary.md"] += ("\n## At target sparsities\n\n"
                                + table_markdown(table, DEFAULT_TOLERANCE)).encode()
    confirmed = confirmations(loaded)  # EXP-confirm beside EXP: mean +- 95% CI per trial
    if len(confirmed):
        files["summary.md"] += confirmed_markdown(confirmed).encode()
        files["confirmed.csv"] = report.csv_bytes(confirmed)
    if not args.no_plot:
        files.update(_figures(fronts, summary, args.experiments, notes, pinned, confirmed))
        if targets:
            page = files["index.html"].decode("utf-8")
            files["index.html"] = with_html_section(
                page, table_html(table, DEFAULT_TOLERANCE)).encode("utf-8")
        if len(confirmed):
            page = files["index.html"].decode("utf-8")
            files["index.html"] = with_html_section(page, confirmed_html(confirmed)).encode()
    files.update(speedup_view(df, objectives, group_by, plot=not args.no_plot,
                              include_collapsed=args.include_collapsed))
    header = (f"{len(args.experiments)} experiment(s), "
              f"{int(summary.group_rows()['trials'].sum())} trials; {read_note(df)}")
    if pinned:
        header += "\n" + pinned.replace("`", "")
    print(report.console_report(fronts, summary, header=header, notes=notes), end="")
    if len(confirmed):
        print(confirmed_text(confirmed), end="")
    written = report.write_files(out, files)
    print(f"wrote {len(written)} files to {out.display}")
    return 0


def confirmations(loaded: Loaded) -> Any:
    """The confirmed points of the experiments given (:mod:`analysis.confirmed`)."""
    from analysis.confirmed import read_confirmations

    return read_confirmations(loaded.sources, loaded.infos, loaded.df)


def confirmed_text(confirmed: Any) -> str:
    from analysis.confirmed import display_table, summary_line

    return ("\nConfirmed points (mean +- 95% t-interval over new seeds; `search` is the "
            "single-seed search score):\n" + report._text(display_table(confirmed)) + "\n"
            + summary_line(confirmed) + "\n")


def confirmed_markdown(confirmed: Any) -> str:
    from analysis.confirmed import display_table, summary_line

    return ("\n## Confirmed points\n\nMean score over new seeds +- the 95% t-interval "
            "(the figure to quote, with its seeds and evaluated rows); `search` is the "
            "single-seed search score.\n\n" + report.markdown_table(display_table(confirmed))
            + f"\n\n{summary_line(confirmed)}\n")


def confirmed_html(confirmed: Any) -> str:
    from html import escape

    from analysis.confirmed import display_table, summary_line
    from analysis.html import html_table

    return (f"<h2>Confirmed points</h2><p>{escape(summary_line(confirmed))}</p>"
            f'<div class="scroll">{html_table(display_table(confirmed))}</div>')


def _figures(fronts: Any, summary: Any, sources: Sequence[str], notes: Sequence[str],
             pinned: str, confirmed: Any = None) -> dict[str, bytes]:
    from analysis import html
    from analysis import plot

    return {
        "pareto.png": plot.pareto_png(fronts, summary.baselines, confirmed),
        "index.html": html.pareto_html(fronts, summary, sources, notes,
                                       pinned).encode("utf-8"),
    }


def speedup_view(df: Any, objectives: Mapping[str, str], group_by: Sequence[str], *,
                 plot: bool = True, include_collapsed: bool = False) -> dict[str, bytes]:
    """Score against measured speed-up, next to the main view, when trials measured it.

    A pruned model's sparsity says how much was removed, its ``speedup`` what that buys at
    inference (CAP through sparse kernels, SMP through removed heads); the two fronts differ.
    Empty when ``speedup`` is already an axis or no row carries it (smoke, or switched off).
    """
    from analysis import schema

    if schema.SPEEDUP in objectives or schema.SPEEDUP not in df \
            or not df[schema.SPEEDUP].notna().any():
        return {}
    score = schema.SCORE if schema.SCORE in objectives else list(objectives)[-1]
    fronts = pareto_fronts(df, {schema.SPEEDUP: "max", score: objectives[score]}, group_by,
                           include_collapsed=include_collapsed)
    files = {"pareto_speedup.csv": report.csv_bytes(report.front_table(fronts))}
    if plot:
        from analysis import plot as plots

        files["pareto_speedup.png"] = plots.pareto_png(fronts)
    return files


def _teacher_scores(teachers: Sequence[Any]) -> dict[str, float]:
    """{task: the CAP teacher's score}; with several teachers per task, the best one."""
    scores: dict[str, float] = {}
    for teacher in (t for t in teachers if t.kind == "teacher"):
        scores[teacher.task] = max(teacher.score, scores.get(teacher.task, teacher.score))
    return scores


def target_table(args: argparse.Namespace, loaded: Loaded) -> int:
    """``table``: the best score at each target, printed and written as md and csv."""
    from analysis.target_table import check_tolerance, parse_targets

    df = loaded.df
    tolerance = check_tolerance(args.tolerance)
    targets = parse_targets(args.targets) if args.targets is not None else recorded_targets(df)
    if not targets:
        raise AnalysisError("no --targets given and the experiments were not run with "
                            "--targets; pass e.g. --targets 0.5,0.9,0.97")
    out = report_location(args.experiments, args.out, "table")
    teachers = recorded_baselines(loaded)[1]  # CAP sweeps have no dense rows: their teacher
    table = targets_table(df, targets, tolerance, group=args.group,
                          teacher_scores=_teacher_scores(teachers))
    table = with_recorded_dense(table, teachers)
    confirmed = confirmations(loaded)
    table = with_confirmed(table, confirmed)
    text = table_markdown(table, tolerance, args.group)
    if table["confirmed_seeds"].fillna(0).gt(0).any():
        text += confirmed_target_markdown(table)
    print(text, end="")
    written = report.write_files(out, {"targets.md": text.encode(),
                                       "targets.csv": report.csv_bytes(table)})
    print(f"wrote {len(written)} files to {out.display}")
    return 0


def history(
    args: argparse.Namespace, loaded: Loaded, objectives: Mapping[str, str],
    refs: Mapping[str, float],
) -> int:
    """Hypervolume after each trial, per experiment and task, in the order the sweep
    proposed the trials (the study's trial numbers, else start times; see
    :mod:`analysis.trial_order`)."""
    from analysis import schema
    from analysis.history import history_frame
    from analysis.trial_order import experiment_trial_order

    order: dict[str, dict[str, float]] = {}
    notes = []
    for source, frame in zip(loaded.sources, loaded.frames):
        found = experiment_trial_order(source, frame)
        if found.note:
            notes.append(found.note)
        for name in map(str, frame[schema.EXPERIMENT].dropna().unique()):
            order.setdefault(name, found.keys)
        print(f"{source}: trials in {found.source} order")
    majority, _, _ = recorded_baselines(loaded)
    table = history_frame(loaded.df, objectives, refs, order, majority)
    print("".join(f"note: {n}\n" for n in notes), end="")
    print(report.history_text(table), end="")
    if args.out:
        from analysis import plot

        files = {"history.csv": report.csv_bytes(table), "history.png": plot.history_png(table)}
        written = report.write_files(resolve(args.out), files)
        print(f"wrote {len(written)} files to {args.out}")
    return 0


def compare(
    args: argparse.Namespace, objectives: Mapping[str, str], refs: Mapping[str, float]
) -> int:
    """Which of two experiments' fronts dominates where, and the hypervolume of each."""
    from analysis.compare import compare_experiments

    loaded = load_each(args)
    a, b = loaded.frames
    result = compare_experiments(a, b, objectives, refs,
                                 labels=compare_labels(args.experiments),
                                 include_collapsed=args.include_collapsed)
    text = "".join(f"{k} = {v}\n" for k, v in zip("AB", args.experiments))
    text += "".join(f"note: {n}\n" for n in budget_notes(loaded))
    text += report.compare_text(result)
    print(text, end="")
    if args.out:
        files = {"compare.md": text.encode(), "compare.csv": report.csv_bytes(result.intervals)}
        written = report.write_files(resolve(args.out), files)
        print(f"wrote {len(written)} files to {args.out}")
    return 0


def compare_labels(experiments: Sequence[str]) -> tuple[str, str]:
    """Short labels for two experiments: folder names, or the full text if they clash."""
    names = tuple(str(e).rstrip("/").rsplit("/", 1)[-1] for e in experiments)
    return (names[0], names[1]) if names[0] != names[1] else (experiments[0], experiments[1])


def read_note(df: Any) -> str:
    """How many result files were read, e.g. ``read 40 of 2,000 result files (...)``."""
    read, total = df.attrs.get("files_read"), df.attrs.get("files_total")
    if read is None or read == total:
        return f"read {len(df):,} result rows"
    return (f"read {len(df):,} result rows from {read:,} of {total:,} files (finished "
            "trials' consolidated files; --all-files reads every file)")


#: What ``analysis table`` adds per target from the confirmation of the trial it shows.
CONFIRMED_TARGET_COLUMNS = ("confirmed_mean", "confirmed_ci95", "confirmed_seeds",
                            "confirmed_eval_examples")


def with_confirmed(table: Any, confirmed: Any) -> Any:
    """The target table with the confirmed mean, 95% interval, seed count and evaluated rows
    of the trial each row shows (empty where that trial was not confirmed)."""
    from analysis.confirmed import by_trial

    found = by_trial(confirmed) if len(confirmed) else {}
    pick = {"confirmed_mean": "score_mean", "confirmed_ci95": "score_ci95",
            "confirmed_seeds": "seeds", "confirmed_eval_examples": "eval_examples"}
    table = table.copy()
    for column, source in pick.items():
        table[column] = [found[str(t)][source] if str(t) in found else None
                         for t in table["trial_id"]]
    return table


def with_recorded_dense(table: Any, references: Sequence[Any]) -> Any:
    """``dense_score`` filled from the dense fine-tune an SMP sweep recorded, where no dense
    trial was read (the recorded reference is the same model, task and profile)."""
    dense = {r.task: r.score for r in references if r.kind == "dense"}
    if not dense or "dense_score" not in table:
        return table
    table = table.copy()
    table["dense_score"] = [d if d is not None and d == d else dense.get(str(task))
                            for d, task in zip(table["dense_score"], table["task"])]
    return table


def confirmed_target_markdown(table: Any) -> str:
    """The confirmed figures per target, as a second table under the target table."""
    rows = table[table["confirmed_seeds"].fillna(0).astype(float) > 0]
    shown = rows.assign(
        confirmed=[f"{m:.4f} +- {c:.4f}" if c == c else f"{m:.4f} (one seed)"
                   for m, c in zip(rows["confirmed_mean"], rows["confirmed_ci95"])],
        seeds=rows["confirmed_seeds"].astype(int),
        eval_rows=rows["confirmed_eval_examples"])
    columns = ["task", "group", "target", "trial_id", "best_score", "confirmed", "seeds",
               "eval_rows"]
    return ("\nConfirmed (mean +- 95% t-interval over new seeds of the trial shown; quote "
            "this, with its seeds and evaluated rows):\n\n"
            + report.markdown_table(shown[columns]) + "\n")
