"""Meta-training of the pruner CNN on a mixture of tasks (methods.md 1.4, ``SMP:train_all.py``).

Per micro-step: draw a task from a pool where task i appears floor(N_i^0.2) times, take
its next shuffled batch (partial batches at an epoch's end are skipped), score the heads
from the frozen PLM's attention maps, sample a Gumbel head mask, run the PLM again with
the mask and take the relational KL loss. SGD on the CNN only, loss / accumulation, clip
1.0, NaN losses skipped. A checkpoint every ``save_every`` updates makes it resumable.

One deliberate difference: the original skips a partial/NaN micro-batch with ``continue``
*before* its accumulation-boundary check, so when the boundary micro-step is the skipped
one that update is dropped and its gradients merge into the next window. Here every
window of ``accumulation`` micro-steps ends in exactly one update (skipped micro-batches
still count as micro-steps and contribute nothing), so ``updates`` is exact.

Randomness: one ``torch.Generator`` seeded with ``config.seed`` draws the task, the Gumbel
noise, the intact layers and the feature mask (the original used Python's ``random`` and
torch's global RNG: same distributions, other sequences); each task's epoch order is a
permutation seeded by (seed, task, epoch). A checkpoint stores the generator state and
each task's (epoch, offset), so a resumed run reproduces an uninterrupted one exactly.

Example:
    >>> result = meta_train(plm, {"mrpc": (mrpc, True), "sst2": (sst2, False)},  # doctest: +SKIP
    ...                     "runs/pruner", MetaTrainConfig(updates=100, batch_size=16))
    >>> result.cnn, result.examples_per_s
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

import torch
from torch import nn

from trainables.models import bert_of
from trainables.smp import _checkpoints as ckpt
from trainables.smp.attention import SEQUENCE_KEYS
from trainables.smp.attention import encode_with_attention
from trainables.smp.attention import eval_mode
from trainables.smp.attention import model_inputs
from trainables.smp.attention import pad_to
from trainables.smp.attention import score_heads
from trainables.smp.heads import HeadMasker
from trainables.smp.meta_config import MetaTrainConfig
from trainables.smp.pruner import MAP_SIZE
from trainables.smp.pruner import HeadPrunerCNN
from trainables.smp.relational import feature_mask
from trainables.smp.relational import relational_loss
from trainables.smp.sampler import sample_head_mask

TaskData = Mapping[str, tuple[Mapping[str, torch.Tensor], bool]]  # name -> (tensors, pair)
Callback = Callable[[int, float, float], None]  # (update step, loss, examples/s)
RESUMABLE_CHANGES = ("updates", "save_every")  # settings a resumed run may change


@dataclass
class MetaTrainResult:
    cnn: HeadPrunerCNN
    step: int  # updates done in total (including those before a resume)
    examples_per_s: float  # over this call's micro-batches
    examples: int  # examples seen by this call
    skipped_partial: int
    skipped_nan: int
    resumed_from: int | None
    losses: list[float] = field(default_factory=list)  # per update of this call


def task_pool(sizes: Mapping[str, int]) -> list[str]:
    """Each task ``int(N ** 0.2)`` times, in the given order (``SMP:train_all.py:175-178``)."""
    return [name for name, size in sizes.items() for _ in range(int(size ** 0.2))]


class TaskStream:
    """Endless shuffled index batches of one task, resumable from ``(epoch, offset)``.

    Epoch e is a permutation drawn from a generator seeded by (seed, task, e), so a
    position is enough to continue the exact sequence after a restart. The last batch of
    an epoch may be partial, as with the original's ``DataLoader``.
    """

    def __init__(self, name: str, size: int, batch_size: int, seed: int,
                 epoch: int = 0, offset: int = 0) -> None:
        self.name, self.size, self.batch_size, self.seed = name, size, batch_size, seed
        self.epoch, self.offset = epoch, offset
        self._perm: tuple[int, torch.Tensor] | None = None

    def _permutation(self) -> torch.Tensor:
        if self._perm is None or self._perm[0] != self.epoch:
            digest = hashlib.sha256(f"{self.seed}/{self.name}/{self.epoch}".encode()).digest()
            gen = torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)
            self._perm = (self.epoch, torch.randperm(self.size, generator=gen))
        return self._perm[1]

    def next_indices(self) -> torch.Tensor:
        indices = self._permutation()[self.offset:self.offset + self.batch_size]
        self.offset += self.batch_size
        if self.offset >= self.size:
            self.epoch, self.offset = self.epoch + 1, 0
        return indices

    def state(self) -> dict[str, int]:
        return {"epoch": self.epoch, "offset": self.offset}


@contextmanager
def frozen(model: nn.Module) -> Iterator[None]:
    """Stop parameter gradients of ``model`` (activations still carry the mask's)."""
    before = [(p, p.requires_grad) for p in model.parameters()]
    try:
        for p, _ in before:
            p.requires_grad_(False)
        yield
    finally:
        for p, flag in before:
            p.requires_grad_(flag)


def _check_tasks(tasks: TaskData, batch_size: int) -> dict[str, int]:
    if not tasks:
        raise ValueError("meta_train needs at least one task")
    sizes = {}
    for name, (tensors, pair) in tasks.items():
        missing = {"input_ids", "attention_mask"} - set(tensors)
        if missing or not isinstance(pair, bool):
            raise ValueError(f"task {name!r} must be (tensors with input_ids and attention_mask, "
                             f"pair: bool); missing {sorted(missing)}, pair={pair!r}")
        sizes[name] = int(tensors["input_ids"].shape[0])
        if sizes[name] < batch_size:  # would never yield a full batch: endless skipping
            raise ValueError(f"task {name!r} has {sizes[name]} examples, fewer than "
                             f"batch_size={batch_size}")
    return sizes


def _micro_loss(plm: nn.Module, cnn: HeadPrunerCNN, masker: HeadMasker, batch: dict,
                pair: bool, gen: torch.Generator, pair_representation: str = "pooler",
                ) -> torch.Tensor:
    """One micro-batch: dense pass -> scores -> sampled mask -> masked pass -> loss."""
    bert = bert_of(plm)
    batch = pad_to(batch, MAP_SIZE)
    masker.mask = None
    maps, dense_out = encode_with_attention(plm, batch)
    mask = sample_head_mask(score_heads(cnn, maps, pair), gen)
    features = feature_mask(bert.config.hidden_size, gen, device=maps.device)
    inputs = model_inputs(batch, maps.device)
    masker.mask = mask
    try:
        pruned_out = bert(**inputs, return_dict=True)
    finally:
        masker.mask = None
    return relational_loss(dense_out, pruned_out, inputs["attention_mask"], pair, features,
                           pair_representation)


def _accumulate(plm: nn.Module, cnn: HeadPrunerCNN, masker: HeadMasker, tasks: TaskData,
                pool: list[str], streams: dict[str, TaskStream], gen: torch.Generator,
                config: MetaTrainConfig, result: MetaTrainResult) -> float:
    """One accumulation window: backward of ``accumulation`` micro-losses; their sum."""
    total = 0.0
    for _ in range(config.accumulation):
        name = pool[int(torch.randint(len(pool), (1,), generator=gen))]
        indices = streams[name].next_indices()
        if len(indices) < config.batch_size:  # an epoch's last, partial batch
            result.skipped_partial += 1
            continue
        tensors, pair = tasks[name]
        batch = {k: tensors[k][indices] for k in SEQUENCE_KEYS if k in tensors}
        loss = _micro_loss(plm, cnn, masker, batch, pair, gen,
                           config.pair_representation) / config.accumulation
        if torch.isnan(loss):
            result.skipped_nan += 1
            continue
        loss.backward()
        total += loss.item()
        result.examples += config.batch_size
    return total


def _resume(directory: Path, config: MetaTrainConfig, sizes: dict[str, int],
            cnn: HeadPrunerCNN, optimizer: torch.optim.Optimizer, gen: torch.Generator,
            streams: dict[str, TaskStream]) -> int | None:
    path = ckpt.latest_checkpoint(directory)
    if path is None:
        return None
    cnn_state, state = ckpt.load_checkpoint(path)
    saved = state["config"]
    changed = [k for k, v in asdict(config).items()
               if k not in RESUMABLE_CHANGES and saved.get(k) != v]
    if changed or state["sizes"] != sizes:
        raise ValueError(f"{path} was written with other settings or tasks "
                         f"(changed: {changed or 'tasks'}); use a new directory")
    cnn.load_state_dict(cnn_state)
    optimizer.load_state_dict(state["optimizer"])
    gen.set_state(state["generator"])
    for name, pos in state["streams"].items():
        streams[name].epoch, streams[name].offset = pos["epoch"], pos["offset"]
    return int(state["step"])


def _save(directory: Path, step: int, config: MetaTrainConfig, sizes: dict[str, int],
          cnn: HeadPrunerCNN, optimizer: torch.optim.Optimizer, gen: torch.Generator,
          streams: dict[str, TaskStream]) -> None:
    ckpt.save_checkpoint(directory, step, cnn.state_dict(), {
        "step": step, "config": asdict(config), "sizes": sizes,
        "optimizer": optimizer.state_dict(), "generator": gen.get_state(),
        "streams": {name: s.state() for name, s in streams.items()},
    })


def meta_train(plm: nn.Module, tasks: TaskData, directory: str | Path,
               config: MetaTrainConfig = MetaTrainConfig(), *,
               callback: Callback | None = None) -> MetaTrainResult:
    """Meta-train a :class:`HeadPrunerCNN` on ``plm`` (eager attention) over ``tasks``.

    Args:
        plm: a BERT (task model or ``BertModel``) loaded with ``attn_implementation="eager"``;
            frozen and run in eval mode, its modes and ``requires_grad`` flags restored after.
        tasks: name -> (tensor dict with ``input_ids``, ``attention_mask`` and optionally
            ``token_type_ids``, all ``[N, S]``; ``pair``: sentence-pair task or not).
        directory: checkpoints go to ``directory/checkpoint-<step>``; if one exists,
            training resumes from the latest at its saved step.
        config: see :class:`MetaTrainConfig`.
        callback: called after every update with ``(step, loss, examples_per_s)``, after
            any checkpoint of that step was written; it may raise to stop training.
    """
    directory = Path(directory)
    sizes = _check_tasks(tasks, config.batch_size)
    device = next(bert_of(plm).parameters()).device
    gen = torch.Generator().manual_seed(config.seed)
    cnn = HeadPrunerCNN(config.ndf)
    cnn.reset_parameters(torch.Generator().manual_seed(config.seed))
    cnn.to(device).train()  # BN in train mode, as the original's wrapper.train()
    optimizer = torch.optim.SGD(cnn.parameters(), lr=config.lr)  # no momentum / wd / schedule
    streams = {n: TaskStream(n, s, config.batch_size, config.seed) for n, s in sizes.items()}
    start = _resume(directory, config, sizes, cnn, optimizer, gen, streams)
    result = MetaTrainResult(cnn, start or 0, 0.0, 0, 0, 0, start)
    pool = task_pool(sizes)
    began = time.perf_counter()
    # the PLM is frozen and in eval mode for both passes (the original forces plm.eval())
    with frozen(plm), eval_mode(plm), HeadMasker(plm) as masker:
        for step in range(result.step + 1, config.updates + 1):
            optimizer.zero_grad(set_to_none=True)
            total = _accumulate(plm, cnn, masker, tasks, pool, streams, gen, config, result)
            nn.utils.clip_grad_norm_(cnn.parameters(), config.max_grad_norm)
            optimizer.step()
            result.step = step
            result.losses.append(total)
            result.examples_per_s = result.examples / (time.perf_counter() - began)
            if step % config.save_every == 0 or step == config.updates:
                _save(directory, step, config, sizes, cnn, optimizer, gen, streams)
            if callback is not None:
                callback(step, total, result.examples_per_s)
    cnn.eval()  # ready for scoring (compute_head_scores); BN uses its running statistics
    return result
