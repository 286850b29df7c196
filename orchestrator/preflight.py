"""Everything about a launch that can be checked before a Ray cluster starts.

A mistake found inside a trial costs a cluster start, a Ray traceback and exit code 1; found
here it is one line naming the value, the file and the rule, exit code 2, and nothing is
written. The command line's own options are checked before, by
:class:`orchestrator.launch_options.LaunchOptions`. What is checked here:

- the model folder (a parseable ``config.json`` with a ``model_type`` transformers knows, and
  weights), also for a CAP ``teacher_path``;
- every data split: it exists, is a file, is readable, has rows, and its labels fit the task
  (class ids in range and whole, regression labels finite and in range);
- user-given artifacts: ``teacher_path`` and ``pruner_path`` exist, and a pickled checkpoint
  among them loads with ``torch.load(weights_only=True)`` (the trial would refuse it later);
- settings that only make sense against the data: a pinned ``extra_examples`` larger than the
  training subset is an error; a CAP schedule too short for the scores to move is a warning.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from orchestrator.errors import UsageError
from orchestrator.settings import SweepSettings

WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin",
                "pytorch_model.bin.index.json")
# Adam moves each pruning score by at most about its learning rate per step, so a schedule
# whose steps x mask_scores_learning_rate is below this distance leaves the scores where they
# started and the trial ends at 0 sparsity (19-26 steps at the dev profile's 0.1 did).
MIN_SCORE_TRAVEL = 5.0


def preflight(sweep: SweepSettings, local_cluster: bool = False) -> None:
    """Check model, data, artifacts and data-dependent settings; raises :class:`UsageError`.

    ``local_cluster``: the trials will run on this machine (no ``--address``), so what it
    lacks (CUDA for ``device=cuda``) is known here; a joined cluster may have it elsewhere.

    The model and the data are both checked before failing, so one message names every
    missing piece and, when the hub cannot be reached, says what does run on this machine
    (the ``demo`` profile, or ``--data-dir``) instead of failing on the model, then the data.
    """
    if sweep.space.calibration:
        return
    settings = sweep.settings
    task = _task(settings)
    problems: list[UsageError] = []
    train_rows = 0
    try:
        check_model_name(settings.get("model", "bert-base-uncased"), "--model")
    except UsageError as exc:
        problems.append(exc)
    try:
        train_rows = check_data(task, settings)
    except UsageError as exc:
        problems.append(exc)
    if problems:
        unreachable = any(isinstance(p, Unreachable) for p in problems)
        hint = what_works_here(sweep) if unreachable else ""
        raise UsageError("; and ".join(str(p) for p in problems) + hint)
    check_artifact_paths(settings)
    check_sequence_length(settings)
    if local_cluster:
        check_device(settings.get("device", "auto"))
    if sweep.space.trainable == "smp":
        preflight_released_pruner(settings)
    check_extra_examples(settings, sweep.searched, train_rows)
    warn_short_cap_schedule(sweep, train_rows)


class Unreachable(UsageError):
    """The model or data would come from a hub this machine cannot reach."""


def what_works_here(sweep: SweepSettings) -> str:
    """The hint that ends a missing-model/data message: runs that need neither hub nor GPU."""
    space = sweep.space.name
    gpu = ""
    try:
        import torch

        gpu = "" if torch.cuda.is_available() else " and no GPU"
    except ImportError:
        pass
    return (f". On this machine (no hub access{gpu}) this works: `python -m orchestrator "
            f"launch --space {space} --profile demo` (the packaged MiniLM on generated data, "
            f"offline, minutes on a CPU), or with a local GLUE copy `--profile dev "
            f"--data-dir DIR`")


def _task(settings: dict[str, Any]) -> Any:
    from trainables.tasks import get_task

    try:
        return get_task(settings["task"])
    except ValueError as exc:
        raise UsageError(str(exc)) from None


# -- the model ------------------------------------------------------------------------------


def check_model_name(name: str, what: str) -> None:
    """The model resolves, is available here, and (a folder) is a loadable model folder."""
    from trainables.hub import HubUnavailableError
    from trainables.model_source import ModelUnavailableError, check_model

    try:
        source = check_model(name)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    except (ModelUnavailableError, HubUnavailableError) as exc:
        raise Unreachable(str(exc)) from None
    if source.kind == "path":
        check_model_folder(Path(source.location), what)


def check_model_folder(folder: Path, what: str) -> None:
    """``config.json`` parses, names a ``model_type`` transformers knows; weights exist."""
    if not folder.is_dir():
        raise UsageError(f"{what} {folder}: not a model folder (no such directory)")
    config_file = folder / "config.json"
    if not config_file.is_file():
        raise UsageError(f"{what} {folder}: not a model folder (no config.json)")
    try:
        config = json.loads(config_file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{what} {config_file} is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise UsageError(f"{what} {config_file} must hold a JSON object, but holds "
                         f"{type(config).__name__}")
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    model_type = config.get("model_type")
    if model_type not in CONFIG_MAPPING_NAMES:
        raise UsageError(f"{what} {config_file}: model_type {model_type!r} is not a model type "
                         "transformers knows (a BERT-family folder says e.g. 'bert')")
    weights = [folder / name for name in WEIGHT_FILES if (folder / name).is_file()]
    if not weights:
        raise UsageError(f"{what} {folder}: no weights (looked for {', '.join(WEIGHT_FILES)})")
    for path in weights:
        if path.name == "pytorch_model.bin":
            check_pickle_refused_or_safe(path, what)


def check_pickle_refused_or_safe(path: Path, what: str) -> None:
    """A pickled torch file must load with ``weights_only=True``, as the trial will load it.

    Memory-mapped, so a large checkpoint is not read whole.
    """
    import pickle

    import torch

    try:
        try:
            torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:
            if "mmap" not in str(exc):
                raise
            torch.load(path, map_location="cpu", weights_only=True)  # legacy (non-zip) format
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UsageError(f"{what} {path} holds objects other than tensors, which are refused "
                         f"(torch.load weights_only=True): {first}") from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise UsageError(f"{what} {path} is not a readable torch checkpoint: "
                         f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") \
            from None


# -- runtime settings against the model and this machine -----------------------------------


def max_positions(name: str) -> int | None:
    """``max_position_embeddings`` of model ``name``, read from its config.json without
    loading it (None when the config is not at hand, e.g. a hub model not cached)."""
    from trainables.model_source import resolve_model

    try:
        source = resolve_model(name)
    except (ValueError, RuntimeError):
        return None
    if source.kind == "tiny":
        from trainables.models import TINY_CONFIG

        return int(TINY_CONFIG["max_position_embeddings"])
    config_file: Any = Path(source.location) / "config.json"
    if source.kind == "hub":
        from huggingface_hub import try_to_load_from_cache

        config_file = try_to_load_from_cache(source.location, "config.json")
        if not isinstance(config_file, str):
            return None
    try:
        value = json.loads(Path(config_file).read_text()).get("max_position_embeddings")
    except (OSError, ValueError, AttributeError):
        return None  # check_model_folder names a broken config.json
    return value if isinstance(value, int) and value > 0 else None


def check_sequence_length(settings: dict[str, Any]) -> None:
    """``max_seq_length`` fits the model's (and a CAP teacher's) position embeddings: longer
    inputs index past the embedding table, an error inside every trial."""
    length = settings.get("max_seq_length", 128)
    for key in ("model", "teacher_path"):
        name = settings.get(key) or ("bert-base-uncased" if key == "model" else None)
        limit = max_positions(name) if name else None
        if limit is not None and length > limit:
            raise UsageError(f"max_seq_length={length} is longer than {key} {name!r} can "
                             f"read (max_position_embeddings={limit}); set max_seq_length "
                             f"<= {limit}")


def check_device(device: Any) -> None:
    """``device=cuda[:N]`` names a GPU this machine has (trials would fail on their first
    step otherwise)."""
    if not isinstance(device, str) or not device.startswith("cuda"):
        return
    import torch

    if not torch.cuda.is_available():
        raise UsageError(f"device={device!r}, but CUDA is not available on this machine; "
                         "use device=auto or cpu, or join a cluster with GPUs (--address)")
    index = device.partition(":")[2]
    if index and (not index.isdigit() or int(index) >= torch.cuda.device_count()):
        raise UsageError(f"device={device!r}: this machine has "
                         f"{torch.cuda.device_count()} CUDA device(s) (cuda:0.."
                         f"cuda:{torch.cuda.device_count() - 1})")


# -- the data -------------------------------------------------------------------------------


def check_data(task: Any, settings: dict[str, Any]) -> int:
    """Read every split once; returns the training rows a trial will use."""
    limit = settings.get("max_train_examples")
    if settings.get("synthetic_data") or task.is_toy:
        from trainables.data import SYNTHETIC_TRAIN_SIZE

        return limit or SYNTHETIC_TRAIN_SIZE
    from trainables.data import load_split
    from trainables.hub import HubUnavailableError

    data_dir = settings.get("data_dir")
    rows = {}
    try:
        for split in ("train", *task.eval_splits):
            rows[split] = len(load_split(task, split, data_dir=data_dir))
    except HubUnavailableError as exc:
        raise Unreachable(str(exc)) from None
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    for split, count in rows.items():
        if count == 0:
            raise UsageError(f"the {split!r} split of task {task.name!r} "
                             f"{_where(task, split, data_dir)} has 0 rows; a trial needs at "
                             "least one to train and evaluate on")
    return min(rows["train"], limit) if limit else rows["train"]


def _where(task: Any, split: str, data_dir: str | None) -> str:
    if data_dir is None:
        return "(from the hub)"
    from trainables.glue_sources import find_split

    _, files = find_split(task, split, data_dir)
    return "in " + ", ".join(str(f) for f in files)


# -- artifacts the user gives ---------------------------------------------------------------


def check_artifact_paths(settings: dict[str, Any]) -> None:
    """``teacher_path`` and ``pruner_path`` exist and hold what a trial can load."""
    teacher = settings.get("teacher_path")
    if teacher is not None:
        folder = Path(teacher).expanduser()
        if not folder.is_absolute():
            raise UsageError(f"teacher_path {teacher!r} must be an absolute path (Ray runs "
                             "trials in their own folders)")
        check_model_folder(folder, "teacher_path")
    pruner, key = settings.get("pruner_path"), "pruner_path"
    if pruner is None and _names_a_path(settings.get("pruner")):
        pruner, key = settings.get("pruner"), "pruner"
    if pruner is not None:
        path = Path(pruner).expanduser()
        if not path.is_absolute():
            raise UsageError(f"{key} {pruner!r} must be an absolute path (Ray runs "
                             "trials in their own folders)")
        from trainables.smp.pruner import PrunerCheckpointError, load_pruner_checkpoint

        try:
            load_pruner_checkpoint(path)
        except PrunerCheckpointError as exc:
            raise UsageError(f"{key}: {str(exc).splitlines()[0]}") from None


def _names_a_path(pruner: Any) -> bool:
    """``pruner`` is a file path, not ``meta-train`` or one of the released names."""
    if not isinstance(pruner, str):
        return False
    from trainables.smp.config import RELEASED_AUTO, RELEASED_NAMES

    return pruner not in ("meta-train", RELEASED_AUTO, *RELEASED_NAMES)


def preflight_released_pruner(settings: dict[str, Any]) -> None:
    """Fetch and verify a released SMP pruner once, here, instead of in every trial; offline
    or corrupted, fail with the file to download and where to put it (exit code 2)."""
    from trainables.smp.config import released_pruner_name
    from trainables.smp.released import ReleasedPrunerError, released_checkpoint

    pruner = settings.get("pruner_path") or settings.get("pruner")
    name = released_pruner_name(pruner, settings.get("model", "bert-base-uncased"))
    if name is None:
        return
    try:
        released_checkpoint(name, settings.get("storage_root"))
    except ReleasedPrunerError as exc:
        raise UsageError(str(exc)) from None


# -- settings against the data --------------------------------------------------------------


def check_extra_examples(settings: dict[str, Any], searched: tuple[str, ...],
                         train_rows: int) -> None:
    """A pinned ``extra_examples`` above the training subset would be capped silently."""
    if "extra_examples" in searched or "extra_examples" not in settings:
        return
    extra = settings["extra_examples"]
    if settings.get("use_contrastive", True) and extra > train_rows:
        raise UsageError(f"extra_examples={extra} is larger than the training subset "
                         f"({train_rows} rows): the bank can add at most {train_rows}; "
                         f"set extra_examples <= {train_rows} or train on more rows")


def warn_short_cap_schedule(sweep: SweepSettings, train_rows: int) -> None:
    """Warn when a CAP sweep's schedule is too short for the scores to move."""
    settings = sweep.settings
    if sweep.space.trainable != "cap":
        return
    batch = settings.get("train_batch_size", 32)
    steps = settings.get("max_steps") or math.ceil(
        settings.get("num_train_epochs", 3.0) * max(1, math.ceil(train_rows / batch)))
    score_lr = settings.get("mask_scores_learning_rate", 1e-2)
    minimum = math.ceil(MIN_SCORE_TRAVEL / score_lr)
    if steps < minimum:
        print(f"warning: CAP trials of {sweep.space.name} train {steps} steps, but at "
              f"mask_scores_learning_rate={score_lr:g} the pruning scores need at least "
              f"{minimum} steps to move; trials may end at 0 sparsity (raise max_steps, "
              "num_train_epochs or mask_scores_learning_rate)", flush=True)
