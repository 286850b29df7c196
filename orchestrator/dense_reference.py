"""An SMP sweep's dense reference: build or reuse it before the trials, record it.

The dense fine-tune of the sweep's model, task and profile is a shared artifact
(:mod:`trainables.dense_baseline`): the first sweep on a storage root builds it, every later
one with the same settings reuses it in seconds. It runs as one Ray task with a trial's
resources (on a GPU where trials get one), and its score, standard error and evaluated rows go
into ``experiment.json`` as ``dense_baseline``, where the analysis finds it and draws it on every
front. CAP sweeps have their teacher (a dense fine-tune) instead and dense sweeps are dense, so
only SMP sweeps build one.

On by default, except in the ``smoke`` profile: there a tiny random model is a test fixture,
not a reference, and every smoke sweep would pay for one more fine-tune
(``--dense-baseline`` turns it on there, ``--no-dense-baseline`` off anywhere).
"""

from __future__ import annotations

from typing import Any

from orchestrator.errors import UsageError

from analysis.dense_reference import RECORD_KEY  # noqa: E402 (experiment.json; its reader owns it)
TRAINABLES = ("smp",)  # the trainables whose sweeps get a dense reference built
OFF_BY_DEFAULT = ("smoke",)  # profiles where it is off unless --dense-baseline


def wanted(asked: bool | None, trainable: str, profile: str) -> bool:
    """Whether this sweep builds (or reuses) its dense reference."""
    if asked and trainable not in TRAINABLES:
        raise UsageError(f"--dense-baseline applies to SMP sweeps; a {trainable} sweep has "
                         "its own dense reference (a CAP sweep's teacher, a dense sweep's own "
                         "trials) or none (calibrate)")
    if asked is not None:
        return asked
    return trainable in TRAINABLES and profile not in OFF_BY_DEFAULT


def build_and_record(experiment: Any, settings: dict[str, Any], resources: Any) -> dict | None:
    """Build or reuse the reference in a Ray task, record it in experiment.json, print one
    line. A failed build is reported and recorded, not fatal: the sweep is still worth
    running, and its fronts then say that no dense reference was measured."""
    import ray

    from trainables.dense_baseline import ensure_dense_baseline

    build = ray.remote(num_cpus=resources.cpus_per_trial,
                       num_gpus=resources.gpus_per_trial)(_ensure)
    try:
        record = ray.get(build.remote(ensure_dense_baseline, dict(settings),
                                      max(1, int(resources.cpus_per_trial))))
    except Exception as exc:  # noqa: BLE001 (a task's error comes back as RayTaskError)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[-1][:300]
        experiment.update({RECORD_KEY: {"error": first}})
        print(f"  dense     warning: the dense baseline could not be built ({first}); the "
              "fronts will have no dense reference")
        return None
    experiment.update({RECORD_KEY: record})
    print(f"  dense     {describe(record)}")
    return record


def _ensure(function: Any, settings: dict[str, Any], threads: int) -> dict[str, Any]:
    """The Ray task's body (the function travels by reference: workers import trainables)."""
    if not settings.get("num_threads"):
        settings = {**settings, "num_threads": threads}
    return function(settings)


def describe(record: dict[str, Any]) -> str:
    """``baseline 0.8123 +- 0.0124 on 1000 rows (reused, <folder>)``."""
    score, se, rows = record.get("score"), record.get("score_se"), record.get("eval_examples")
    text = f"baseline {score:.4f}" if isinstance(score, (int, float)) else "baseline (no score)"
    if isinstance(se, (int, float)) and se == se:
        text += f" +- {se:.4f}"
    if isinstance(rows, (int, float)):
        text += f" on {int(rows)} rows"
    how = "reused" if record.get("reused") else "built"
    where = record.get("artifact")
    return text + f" ({how}{', ' + where if where else ''})"


def pending(record: dict[str, Any]) -> bool:
    """A resumed sweep that wanted a reference but has none recorded (killed while building)."""
    return bool(record.get("dense_baseline_wanted")) and RECORD_KEY not in record
