"""The dense reference an experiment recorded: its score with ``+- se`` on every front.

An SMP sweep builds (or reuses) the dense fine-tune of its model, task and profile before its
trials and records what that model measured in ``experiment.json`` under ``dense_baseline``
(``orchestrator.dense_reference``): ``score``, ``score_se``, ``eval_examples`` and the artifact
it came from. :func:`dense_reference` turns that record into a
:class:`analysis.baselines.Baseline` of kind ``dense`` (drawn as a line with a +- se band, listed
in the reference table); a failed build's record (``{"error": ...}``) is no reference.

Example:
    >>> info = {"settings": {"task": "sst2"}, "dense_baseline": {"score": 0.81,
    ...         "score_se": 0.0124, "eval_examples": 1000, "artifact": "/s/_artifacts/x"}}
    >>> base = dense_reference(info)
    >>> base.score, base.se, base.source
    (0.81, 0.0124, 'dense fine-tune measured on 1000 evaluated rows (/s/_artifacts/x)')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from analysis.baselines import DENSE
from analysis.baselines import Baseline
from analysis.baselines import task_key

RECORD_KEY = "dense_baseline"


def dense_reference(info: Mapping[str, Any], task: Any = None) -> Baseline | None:
    """The recorded dense reference of an experiment (``task``: default its settings' task),
    or None when it recorded none (an older experiment, a CAP or dense sweep, a failed
    build)."""
    record = info.get(RECORD_KEY)
    if not isinstance(record, Mapping):
        return None
    score = record.get("score")
    if not _number(score):
        return None
    settings = info.get("settings") if isinstance(info.get("settings"), Mapping) else {}
    name = task_key(task if task is not None else settings.get("task", ""))
    rows = record.get("eval_examples")
    where = (f"dense fine-tune measured on {int(rows)} evaluated rows" if _number(rows)
             else "dense fine-tune recorded in experiment.json")
    if record.get("artifact"):
        where += f" ({record['artifact']})"
    se = record.get("score_se")
    return Baseline(name, DENSE, float(score), where, float(se) if _number(se) else None)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value
