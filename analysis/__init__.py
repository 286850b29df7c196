"""Sparsity-score Pareto fronts, hypervolumes and reports from the sweep's Parquet results.

The Parquet schema (:mod:`analysis.schema`, its names :mod:`facts.columns`') is this
package's whole contract; it imports no sibling package but the stdlib-only ``facts``. The
names below load on first use, so ``import analysis`` stays cheap (no pandas until a function
needs it, no matplotlib until a plot is drawn).

Modules:
    schema       column names (``facts.columns``') and Arrow types, ``rows_to_table``,
                 the final and completed rows of a frame
    layout       the experiment folder's names (``results/``, ``experiment.json``, ...) and
                 the result files' names: the writer's format and its parser in one place
    io           the one reader: experiment folders (paths or URIs), foreign files skipped
                 with a warning (``read_experiment``; ``read_results`` never raises on none)
    pareto       ``pareto_mask``, ``nondominated``, ``knee_index`` (pure numpy)
    fronts       ``pareto_fronts``: fronts per task and group, excluded trials counted
    hypervolume  ``hypervolume.hypervolume``, ``hypervolume_history``, reference points
                 (the function is not re-exported: it shares the module's name)
    baselines    reference scores: majority class per task (its own metric, ``facts.tasks``),
                 CAP teacher, dense fine-tune; the ``experiment.json`` keys that record them
    summary      ``summarize``: hypervolume and knee per front
    history      ``history_frame``: hypervolume against trials, per experiment
    trial_order  the order a sweep proposed its trials (optuna.journal, else start times)
    compare      ``compare_experiments``: which of two fronts dominates where
    report       console text, ``summary.md``, CSV and Parquet
    plot         ``pareto.png`` and ``history.png`` (matplotlib, imported lazily)
    html         the self-contained ``index.html``
    errors       ``AnalysisError`` (bad input; the CLI prints one line and exits 2)
    export       one trial's model: copies the stock Hugging Face folder its final
                 checkpoint holds, with a model card
    target_table ``python -m analysis table``: the best score at each target sparsity
    cli          ``python -m analysis pareto | history | compare | export | table``
                 (argparse only)
    commands     the subcommands' bodies: compute, render, write, print

Example:
    >>> import analysis
    >>> df = analysis.read_experiments(["experiments/cap_soft_sst2"])  # doctest: +SKIP
    >>> analysis.pareto_fronts(df).front                               # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AnalysisError": "analysis.errors",
    "SchemaError": "analysis.schema",
    "read_experiment": "analysis.io",
    "read_experiments": "analysis.io",
    "pareto_mask": "analysis.pareto",
    "nondominated": "analysis.pareto",
    "knee_index": "analysis.pareto",
    "Fronts": "analysis.fronts",
    "pareto_fronts": "analysis.fronts",
    "CHANCE_LEVELS": "analysis.hypervolume",
    "MAJORITY_SCORES": "analysis.baselines",
    "majority_class_score": "analysis.baselines",
    "experiment_trial_order": "analysis.trial_order",
    "hypervolume_history": "analysis.hypervolume",
    "reference_point": "analysis.hypervolume",
    "Summary": "analysis.summary",
    "summarize": "analysis.summary",
    "history_frame": "analysis.history",
    "compare_experiments": "analysis.compare",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'analysis' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
