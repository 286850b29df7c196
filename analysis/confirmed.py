"""Confirmed points: a search trial re-run with K new seeds, as a mean and a 95% interval.

``python -m orchestrator confirm EXP --seeds K`` writes a linked experiment (``EXP-confirm``
by default) next to EXP: its ``experiment.json`` says which experiment it confirms and, per
run, the trial and the seed (``confirms.runs``), and EXP's names it (``confirmed_by``). This
module finds that experiment from EXP (:func:`confirmations_of`), reads its rows, and gives
one row per confirmed trial (:func:`confirmed_table`): the mean score over the completed
seeds with a 95% Student-t interval, the seeds' standard deviation against the mean
``score_se`` of the runs (is the standard error an honest estimate of the seed noise?), the
rows each score rests on, the single-seed search score beside it, and whether the confirmed
mean is still non-dominated among the confirmed points.

The figure a paper should quote is ``score_mean +- score_ci95`` with ``seeds`` and
``eval_examples`` (docs/confirmation.md).

Example:
    >>> table = confirmed_table(search_rows, confirm_rows, confirm_info)   # doctest: +SKIP
    >>> table[["trial_id", "score_mean", "score_ci95", "seeds"]]           # doctest: +SKIP
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis import schema
from analysis.pareto import nondominated
from analysis.pareto import to_minimization

CONFIRMS_KEY = "confirms"  # the confirmation's experiment.json (orchestrator.confirm)
CONFIRMED_BY_KEY = "confirmed_by"  # the confirmed experiment's experiment.json
DEFAULT_SUFFIX = "-confirm"
LEVEL = 0.95

COLUMNS = ("task", "method", "trial_id", "confirmed_in", "seeds", "seeds_planned",
           "score_mean", "score_ci95", "score_low", "score_high", "score_sd", "mean_score_se",
           "spread_over_se", "eval_examples", "weight_sparsity_mean", "search_score",
           "collapsed_runs", "confirmed_on_front")

#: Student's t quantile t(0.975, df) for df = 1..30; beyond, the Cornish-Fisher expansion
#: (within 0.001 of the exact value there), so no scipy is needed.
_T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
         2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
         2.060, 2.056, 2.052, 2.048, 2.045, 2.042)


def t_quantile_975(df: int) -> float:
    """Student's t 97.5% quantile with ``df`` degrees of freedom (NaN for df < 1).

    Example:
        >>> round(t_quantile_975(2), 3), round(t_quantile_975(60), 3)
        (4.303, 2.0)
    """
    if df < 1:
        return float("nan")
    if df <= len(_T975):
        return _T975[df - 1]
    z = 1.959964
    return (z + (z**3 + z) / (4 * df) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * df**2))


def t_interval(values: Sequence[float]) -> tuple[float, float, float]:
    """(mean, half-width of the 95% t-interval, standard deviation) of ``values``; the
    half-width and deviation are NaN with fewer than two values.

    Example:
        >>> [round(v, 4) for v in t_interval([0.80, 0.82, 0.84])]
        [0.82, 0.0497, 0.02]
    """
    data = np.asarray([v for v in values if v == v], dtype=float)
    if not len(data):
        return float("nan"), float("nan"), float("nan")
    mean = float(data.mean())
    if len(data) < 2:
        return mean, float("nan"), float("nan")
    sd = float(data.std(ddof=1))
    return mean, t_quantile_975(len(data) - 1) * sd / math.sqrt(len(data)), sd


def sibling(source: str, name: str) -> str:
    """The folder ``name`` beside experiment ``source`` (a path or a URI, query kept)."""
    text = str(source)
    if "://" in text:
        base, sep, query = text.partition("?")
        parent = base.rstrip("/").rsplit("/", 1)[0]
        return f"{parent}/{name}{sep}{query}"
    return str(Path(text).expanduser().resolve().parent / name)


def confirmations_of(source: str, info: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """``(location, experiment.json)`` of each confirmation of the experiment at ``source``:
    those its ``confirmed_by`` names, else a ``<name>-confirm`` folder beside it that says it
    confirms this experiment."""
    from analysis.io import experiment_info

    name = str(info.get("name") or Path(str(source).partition("?")[0].rstrip("/")).name)
    names = [n for n in info.get(CONFIRMED_BY_KEY) or [] if isinstance(n, str)]
    found = []
    for candidate in dict.fromkeys([*names, f"{name}{DEFAULT_SUFFIX}"]):
        location = sibling(source, candidate)
        try:
            record = experiment_info(location)
        except Exception:  # noqa: BLE001 (an unreachable sibling is no confirmation)
            continue
        confirms = record.get(CONFIRMS_KEY)
        if isinstance(confirms, Mapping) and confirms.get("experiment") == name:
            found.append((location, record))
    return found


def read_confirmations(sources: Sequence[str], infos: Sequence[Mapping[str, Any]],
                       search_rows: pd.DataFrame) -> pd.DataFrame:
    """The :func:`confirmed_table` of every confirmation found beside ``sources``."""
    from analysis.errors import AnalysisError
    from analysis.io import read_experiment

    tables = []
    for source, info in zip(sources, infos):
        for location, record in confirmations_of(source, info):
            try:
                rows = read_experiment(location)
            except AnalysisError as exc:  # started, nothing reported yet: say so, go on
                warnings.warn(f"confirmation {location} has no readable rows yet ({exc})",
                              stacklevel=2)
                continue
            tables.append(confirmed_table(search_rows, rows, record))
    if not tables:
        return pd.DataFrame(columns=list(COLUMNS))
    return mark_confirmed_front(pd.concat(tables, ignore_index=True))


def confirmed_table(search_rows: pd.DataFrame, confirm_rows: pd.DataFrame,
                    record: Mapping[str, Any]) -> pd.DataFrame:
    """One row per trial the confirmation ``record`` re-ran (see :data:`COLUMNS`).

    A run counts once it has a completed final row with a finite score; its seed names it
    (``record["confirms"]["runs"]``). Runs not finished yet are the difference between
    ``seeds_planned`` and ``seeds``.
    """
    confirms = record.get(CONFIRMS_KEY) or {}
    runs = pd.DataFrame(confirms.get("runs") or [], columns=["trial", "seed"])
    finals = _completed_finals(confirm_rows)
    finals = finals[finals[schema.SCORE].notna()] if len(finals) else finals
    if len(finals):
        seeds = pd.to_numeric(finals[schema.SEED], errors="coerce")
        finals = finals.assign(_seed=seeds).drop_duplicates("_seed", keep="last")
        trial_of = dict(zip(runs["seed"].astype(int), runs["trial"].astype(str)))
        finals = finals.assign(_trial=finals["_seed"].map(
            lambda s: trial_of.get(int(s)) if s == s else None))
    search = _completed_finals(search_rows).drop_duplicates(schema.TRIAL_ID, keep="last") \
        .set_index(schema.TRIAL_ID, drop=False) if len(search_rows) else pd.DataFrame()
    rows = []
    for trial in confirms.get("trials") or list(dict.fromkeys(runs["trial"])):
        done = finals[finals["_trial"] == trial] if len(finals) else finals
        mean, ci, sd = t_interval(done[schema.SCORE].astype(float)) if len(done) else \
            (float("nan"),) * 3
        se = _mean(done, schema.SCORE_SE)
        origin = search.loc[trial] if trial in search.index else None
        rows.append({
            "task": _first(done, schema.TASK, origin), "method": _first(done, schema.METHOD,
                                                                        origin),
            "trial_id": trial, "confirmed_in": str(record.get("name", "")),
            "seeds": len(done), "seeds_planned": int((runs["trial"] == trial).sum()),
            "score_mean": mean, "score_ci95": ci, "score_low": mean - ci, "score_high": mean + ci,
            "score_sd": sd, "mean_score_se": se,
            "spread_over_se": sd / se if se and se == se and sd == sd else float("nan"),
            "eval_examples": _mean(done, schema.EVAL_EXAMPLES),
            "weight_sparsity_mean": _mean(done, schema.WEIGHT_SPARSITY),
            "search_score": float(origin[schema.SCORE]) if origin is not None else float("nan"),
            "collapsed_runs": int(done[schema.COLLAPSED].astype(object).eq(True).sum())
            if schema.COLLAPSED in done else 0,
            "confirmed_on_front": False,
        })
    return pd.DataFrame(rows, columns=list(COLUMNS))


def mark_confirmed_front(table: pd.DataFrame,
                         objectives: Mapping[str, str] | None = None) -> pd.DataFrame:
    """``confirmed_on_front``: the confirmed mean is non-dominated among the confirmed means
    of its task and method (weight sparsity up, score up by default)."""
    objectives = objectives or {"weight_sparsity_mean": "max", "score_mean": "max"}
    table = table.copy()
    table["confirmed_on_front"] = False
    for _, rows in table.groupby(["task", "method"], dropna=False):
        values = to_minimization(rows, objectives)
        table.loc[rows.index, "confirmed_on_front"] = nondominated(values)
    return table


def by_trial(confirmed: pd.DataFrame) -> dict[str, Mapping[str, Any]]:
    """Confirmed rows by the trial id they confirm (for the target table)."""
    return {str(r["trial_id"]): r for _, r in confirmed.iterrows()}


def summary_line(confirmed: pd.DataFrame) -> str:
    """``3 of 4 confirmed points stay non-dominated; seed spread / score_se: median 1.1``."""
    done = confirmed[confirmed["seeds"] > 0]
    if done.empty:
        return "confirmed points: none finished yet"
    ratio = done["spread_over_se"].dropna()
    spread = (f"; seed spread / score_se: median {ratio.median():.2f} over {len(ratio)} "
              "points (near 1: score_se is an honest estimate of the seed noise)"
              if len(ratio) else "")
    return (f"confirmed points: {int(done['confirmed_on_front'].sum())} of {len(done)} stay "
            f"non-dominated once confirmed (means over {_seed_counts(done)} seeds){spread}")


def display_table(confirmed: pd.DataFrame) -> pd.DataFrame:
    """The columns a report shows, ``score`` written as ``mean +- interval``."""
    shown = confirmed.assign(
        score=[_pm(m, c) for m, c in zip(confirmed["score_mean"], confirmed["score_ci95"])],
        search=confirmed["search_score"],
        seeds=[f"{s}/{p}" for s, p in zip(confirmed["seeds"], confirmed["seeds_planned"])],
        non_dominated=confirmed["confirmed_on_front"])
    return shown[["task", "method", "trial_id", "score", "search", "seeds", "eval_examples",
                  "weight_sparsity_mean", "score_sd", "mean_score_se", "non_dominated"]]


def _pm(mean: float, ci: float) -> str:
    if mean != mean:
        return ""
    return f"{mean:.4f} +- {ci:.4f}" if ci == ci else f"{mean:.4f} (one seed: no interval)"


def _seed_counts(done: pd.DataFrame) -> str:
    counts = sorted(set(int(s) for s in done["seeds"]))
    return str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"


def _completed_finals(rows: pd.DataFrame) -> pd.DataFrame:
    if not len(rows):
        return rows
    final = rows[rows[schema.IS_FINAL].fillna(False).astype(bool)]
    return final[final[schema.STATUS] == schema.STATUS_COMPLETED]


def _mean(rows: pd.DataFrame, column: str) -> float:
    if column not in rows or not len(rows):
        return float("nan")
    values = pd.to_numeric(rows[column], errors="coerce").dropna()
    return float(values.mean()) if len(values) else float("nan")


def _first(rows: pd.DataFrame, column: str, origin: Any) -> Any:
    if len(rows) and column in rows and rows[column].notna().any():
        return rows[column].dropna().iloc[0]
    return origin[column] if origin is not None and column in origin else None
