"""Sweep orchestration: CLI, Ray cluster, experiment folder, Tuner, Parquet writer.

Entry point: ``python -m orchestrator --help``. Importing this package imports nothing else;
each module is imported where it is used. Only ``__main__`` imports :mod:`orchestrator.cli`,
and no command module imports another command module: what two commands share lives in the
modules listed under "shared" (``tests/orchestrator/test_import_graph.py`` keeps it so).

Modules:
    cli            parses the command line and dispatches to a command (``COMMANDS``); the
                   one error boundary (``error: ...`` and the exit code)
    console        one-line errors, the full-disk check, Ray's log forwarding settings

  commands (one each; imported only when that command runs)
    launch         ``launch``: cheap checks, then the cluster, then the sweep
    resume         ``resume NAME``: Tune's restore, then reconcile
    status         ``status NAME``: trials by state, the front so far, time left
    dashboard      ``dashboard NAME``: optuna-dashboard, read-only by default
    artifacts_cli  ``artifacts list|prune``
    spaces_cli     ``list-spaces``, ``show-space NAME``

  shared
    experiment     ``Experiment``: an experiment folder, its name, opening and creating it
    storage        ``--storage`` (folder or URI), ``artifacts_root``, ``redact``
    settings       space + profile + ``--set`` -> validated ``SweepSettings`` (merged once)
    preflight      model, data and option checks before the cluster starts
    finish         the end-of-sweep summary of ``launch`` and ``resume``
    errors         ``OrchestratorError`` (exit 1), ``UsageError`` (exit 2)

  the sweep
    sweep          ``SweepPlan`` -> the Tuner (searcher, scheduler, callbacks)
    search         samplers, constraints, ``SweepSearch`` (what the study is told)
    early_stop     ``ParetoRungScheduler``: successive halving on a Pareto ranking
    target_plan    ``--targets``: the sweep in target coordinates (each trial's knob)
    calibration    the ``final_lambda`` -> sparsity model of ``--targets``
    objectives     ``--objectives``: measured metrics as objectives
    warm_start     ``--warm-start``: an earlier experiment's trials seed the study
    monitoring     ``--log-to`` checks
    cluster        connecting to Ray (always ``address="local"`` unless ``--address``)
    storage_check  a node-local storage path on a multi-node cluster is refused
    results        the Parquet writer callback (file names: ``analysis.layout``)
    progress       the console lines while a sweep runs
    live_trials    the concurrency limiter kept true to what Tune runs
    reconcile      settle the study and the rows after a sweep or a killed driver

  safety
    atomic_fs      Tune's state written through a filesystem that replaces files whole
    state_check    ``resume`` refuses damaged state with what to do
    trust          ``resume`` refuses state files others could have written
    read_only_storage  the dashboard's read-only Optuna storage
"""
