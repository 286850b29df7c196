"""``SmpConfig``: the settings of one ``smp`` trial (fine-tune + mask + pruner artifact).

Torch-free, like :mod:`trainables.config`, so the orchestrator validates ``--set`` values
before anything heavy loads. Defaults are the original's (methods.md 1.8): meta-training on
the README's seven tasks, 8000 updates of 60 x 8 examples, SGD lr 2e-2, seed 42; masks at
ratio 0.5 by the per-layer rule from the whole training set in batches of 8.

Example:
    >>> from trainables.config import from_mapping
    >>> cfg = from_mapping(SmpConfig, {"task": "mrpc", "prune_ratio": 0.25})
    >>> cfg.meta_task_names()[:3]
    ('mnli', 'qqp', 'sst2')
"""

from __future__ import annotations

from dataclasses import dataclass

from trainables.config import ConfigError
from trainables.config import TrainConfig
from trainables.smp.meta_config import META_FIELDS
from trainables.smp.meta_config import MetaTrainConfig
from trainables.smp.meta_config import meta_problem
from trainables.tasks import UnknownTaskError
from trainables.tasks import get_task

ALLOCATIONS = ("per_layer", "global")
# ``pruner`` values other than a path (trainables.smp.released holds the released files' pins)
META_TRAIN = "meta-train"
RELEASED_NAMES = ("released-base", "released-large")
RELEASED_AUTO = "released"  # the one that fits the model: large for bert-large*, else base
_META = MetaTrainConfig()  # the meta_* defaults are meta-training's own
# The README's meta-training command (SMP:README.md), in its order.
README_META_TASKS = "mnli,qqp,sst2,cola,stsb,mrpc,rte"


@dataclass(frozen=True)
class SmpConfig(TrainConfig):
    """One SMP trial: score heads with a meta-trained pruner, remove them, fine-tune.

    Mask settings:
        prune_ratio: fraction of heads removed, in [0, 1) (per layer, or overall when global).
        allocation: ``per_layer`` (the original rule) or ``global`` (one ranking, >= 1 head
            kept per layer; not in the original).
        mask_exact_count: break score ties by head index so each layer keeps exactly
            ``H - int(H * r)`` heads (off = the faithful rule, which keeps fewer on ties).
        mask_batch_size / mask_max_examples: the scoring pass (``cal``): batch 8 over the
            whole training set (None) as the original, or a fixed random subset (the
            ``dev`` profile scores 512 rows: benchmarks/smp_mask_stability.py).
    Pruner settings:
        pruner: ``meta-train`` meta-trains the pruner as a shared artifact (the ``meta_*``
            settings); ``released-base`` / ``released-large`` use the authors' released
            ``checkpoints/base.bin`` / ``large.bin`` (fetched once into the storage root,
            checksum-verified; :mod:`trainables.smp.released`); ``released`` picks the one
            that fits ``model`` (``large`` for a bert-large model, else ``base``: the
            ``paper`` profile's default); anything else is the path of a ``base.bin``-format
            file or a meta-training ``checkpoint-<step>`` folder.
        pruner_path: the older spelling of ``pruner=PATH``, kept so existing sweeps run:
            when given it becomes ``pruner`` (giving both, differently, is refused).
        meta_*: meta-training; ``meta_tasks`` is a comma-separated task list;
            ``meta_pair_representation`` ``pooler`` (the original) or ``mean`` (pair tasks
            compared by masked mean like single sentences: for models with an untrained
            pooler, such as the packaged MiniLM);
            ``meta_data_dir`` None reads the trial's ``data_dir`` (or generated data when
            ``synthetic_data``).
    """

    prune_ratio: float = 0.5
    allocation: str = "per_layer"
    mask_exact_count: bool = False
    mask_batch_size: int = 8
    mask_max_examples: int | None = None
    pruner: str = META_TRAIN
    pruner_path: str | None = None
    meta_tasks: str = README_META_TASKS
    meta_updates: int = _META.updates
    meta_batch_size: int = _META.batch_size
    meta_accumulation: int = _META.accumulation
    meta_learning_rate: float = _META.lr
    meta_max_examples_per_task: int | None = None
    meta_seed: int = _META.seed
    meta_data_dir: str | None = None
    meta_pair_representation: str = _META.pair_representation

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(0 <= self.prune_ratio < 1, "prune_ratio", self.prune_ratio,
               "in [0, 1) (the fraction of attention heads removed)")
        _check(self.allocation in ALLOCATIONS, "allocation", self.allocation,
               f"one of {', '.join(ALLOCATIONS)}")
        _check(self.mask_batch_size >= 1, "mask_batch_size", self.mask_batch_size, ">= 1")
        problem = meta_problem(self.meta_train_settings())
        if problem is not None:  # meta-training's rules, said with this config's names
            name, value, rule = problem
            meta_name = next(k for k, v in META_FIELDS.items() if v == name)
            _check(False, meta_name, value, rule)
        _check(self.mask_max_examples is None or self.mask_max_examples >= 1,
               "mask_max_examples", self.mask_max_examples, "None or >= 1")
        limit = self.meta_max_examples_per_task
        # A task smaller than one meta batch never yields a full batch (meta_train refuses it).
        _check(limit is None or limit >= self.meta_batch_size, "meta_max_examples_per_task",
               limit, f"None or >= meta_batch_size ({self.meta_batch_size})")
        _check(self.pruner_path is None or self.pruner_path.strip() != "", "pruner_path",
               self.pruner_path, "None or a path")
        _check(isinstance(self.pruner, str) and self.pruner.strip() != "", "pruner",
               self.pruner,
               f"{META_TRAIN}, {RELEASED_AUTO}, {', '.join(RELEASED_NAMES)} or a path")
        if self.pruner_path is not None:
            _check(self.pruner in (META_TRAIN, self.pruner_path), "pruner_path",
                   self.pruner_path, f"left unset when `pruner` is given ({self.pruner!r}); "
                   "`pruner_path` is the older spelling of `pruner=PATH`")
            object.__setattr__(self, "pruner", self.pruner_path)  # fold the alias in
        _check(not self.pruner.startswith("released-") or self.pruner in RELEASED_NAMES,
               "pruner", self.pruner, f"one of {', '.join(RELEASED_NAMES)} when it names a "
               f"released pruner (or {RELEASED_AUTO}, {META_TRAIN}, or a path)")
        self.meta_task_names()  # raises on an empty list, a duplicate or an unknown task

    def meta_train_settings(self) -> dict[str, object]:
        """The ``meta_*`` fields as :class:`MetaTrainConfig` keyword arguments."""
        return {field: getattr(self, name) for name, field in META_FIELDS.items()}

    def released_pruner_name(self) -> str | None:
        """``released-base`` / ``released-large`` when ``pruner`` names a released file."""
        return released_pruner_name(self.pruner, self.model)

    def meta_task_names(self) -> tuple[str, ...]:
        """The canonical names of ``meta_tasks``, in the given order."""
        names = [part.strip() for part in self.meta_tasks.split(",") if part.strip()]
        _check(bool(names), "meta_tasks", self.meta_tasks,
               "a comma-separated list of tasks, e.g. 'sst2,mrpc'")
        try:
            canonical = tuple(get_task(name).name for name in names)
        except UnknownTaskError as exc:
            raise ConfigError(f"`meta_tasks`: {exc}") from None
        _check(len(set(canonical)) == len(canonical), "meta_tasks", self.meta_tasks,
               "a list without duplicates")
        return canonical


def released_pruner_name(pruner: str | None, model: str) -> str | None:
    """The released file ``pruner`` names for ``model`` (``released`` picks by the model's
    name), or None for ``meta-train`` and paths."""
    if pruner == RELEASED_AUTO:
        return "released-large" if "bert-large" in model.lower() else "released-base"
    return pruner if pruner in RELEASED_NAMES else None


def _check(ok: bool, key: str, value: object, rule: str) -> None:
    if not ok:
        raise ConfigError(f"`{key}` must be {rule}, but got {value!r}")
