"""The one module where trainables meet Ray: a ``run(config, report)`` as a Tune trainable.

The adapter turns our Reporter calls into ``ray.tune.report`` (with a ``ray.tune.Checkpoint``
when the trainable hands over a checkpoint folder), hands the latest checkpoint from
``ray.tune.get_checkpoint()`` back as ``resume_from`` after a retry or a resumed sweep, and sets
torch's thread count to the trial's CPU share when the config does not say otherwise.
Only ``ray.tune.*`` is used: ``ray.train.report`` errors inside Tune functions in Ray 2.60.
"""

from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any


def _cpu_share() -> int:
    from ray import tune

    try:
        resources = tune.get_context().get_trial_resources()
        cpus = sum(bundle.get("CPU", 0) for bundle in resources.bundles)
    except Exception:  # not inside a trial (e.g. called directly in tests)
        return 0
    return max(1, math.floor(cpus)) if cpus else 1


def tune_trainable(name: str) -> Callable[[dict[str, Any]], None]:
    """A Ray Tune function trainable running trainable ``name``."""

    def trainable(config: dict[str, Any]) -> None:
        import ray
        from ray import tune

        from trainables import report_keys as K
        from trainables import run_function

        # Ray logs every persisted checkpoint at INFO; one line per evaluation is noise.
        logging.getLogger("ray.train").setLevel(logging.WARNING)
        run = run_function(name)
        node = ray.get_runtime_context().get_node_id()
        from facts.columns import SWEEP_ONLY_KEYS

        # --targets bookkeeping for the results writer, not a setting of the trainable.
        config = {k: v for k, v in config.items() if k not in SWEEP_ONLY_KEYS}
        if not config.get("num_threads"):
            config["num_threads"] = _cpu_share()

        def report(metrics: Mapping[str, Any], checkpoint_dir: Path | None = None) -> None:
            checkpoint = None
            if checkpoint_dir is not None:
                checkpoint = tune.Checkpoint.from_directory(str(checkpoint_dir))
            tune.report({**metrics, K.NODE: node}, checkpoint=checkpoint)

        trial_name = tune.get_context().get_trial_name()
        if trial_name:
            announce_trial(trial_name)
        previous = tune.get_checkpoint()
        with tempfile.TemporaryDirectory(prefix="resume-") as tmp:
            resume_from = None
            if previous is not None:
                resume_from = Path(previous.to_directory(tmp))
            run(config, report, resume_from=resume_from)

    trainable.__name__ = name
    trainable.__qualname__ = name
    return trainable


#: What Ray's log monitor reads as "the lines below come from actor <name>" (Ray's
#: ray_constants.LOG_PREFIX_ACTOR_NAME, printed by Ray itself when an actor is created).
LOG_NAME_MARK = ":actor_name:"
#: The repr of a trial process that runs several trials in turn (actor reuse).
WORKER_SUFFIX = "_worker"


def announce_trial(trial_name: str) -> None:
    """Make the driver prefix this process's next log lines with ``trial_name``.

    Ray names an actor's log lines after the actor's repr, taken once when the actor is
    created; a reused trial process would keep its first trial's name. Printing Ray's
    actor-name marker on both streams renames the prefix from here on (the marker line
    itself is not shown).
    """
    import sys

    for stream in (sys.stdout, sys.stderr):
        print(f"{LOG_NAME_MARK}{trial_name}", file=stream, flush=True)
    print(f"trial {trial_name} started", flush=True)


def tune_trainable_class(name: str, display_name: str, reuse: bool = False) -> type:
    """The Tune trainable class for ``name``, named for the Ray dashboard.

    The actor class is called ``display_name`` (the space). Without actor reuse each actor's
    repr is its trial name (``<space>_<trial_id>``), which the dashboard lists for the actor
    and its tasks. Ray 2.60 takes that repr once, when the actor is created, and offers no
    way to change it; a reused actor runs several trials, so with ``reuse`` its repr is
    ``<space>_worker`` (true for its whole life) and each trial is named in the log prefixes
    (:func:`announce_trial`) and by ``status`` instead.
    """
    from ray.tune.trainable.function_trainable import wrap_function

    base = wrap_function(tune_trainable(name), name=display_name)

    def __repr__(self) -> str:
        if reuse:
            return f"{display_name}{WORKER_SUFFIX}"
        try:
            return self.trial_name
        except Exception:  # before the trial info is set
            return display_name

    return type(display_name, (base,), {"__repr__": __repr__,
                                        "__qualname__": display_name,
                                        "__module__": __name__})
