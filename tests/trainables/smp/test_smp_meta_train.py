"""Meta-training: task mixture, streams, checkpoints and resume (methods.md 1.4)."""

from __future__ import annotations

import pytest
import torch

from trainables.smp import HeadPrunerCNN
from trainables.smp import MetaTrainConfig
from trainables.smp import TaskStream
from trainables.smp import latest_checkpoint
from trainables.smp import load_pruner_checkpoint
from trainables.smp import meta_train
from trainables.smp import task_pool

GLUE_TRAIN = {"mrpc": 3668, "qqp": 363846, "rte": 2490, "mnli": 392702, "cola": 8551,
              "sst2": 67349, "stsb": 5749}
SMALL = dict(batch_size=4, accumulation=2, ndf=2, seed=5)


def test_task_pool_weights():
    pool = task_pool(GLUE_TRAIN)
    counts = {name: pool.count(name) for name in GLUE_TRAIN}
    assert counts == {"mrpc": 5, "qqp": 12, "rte": 4, "mnli": 13, "cola": 6, "sst2": 9, "stsb": 5}
    assert len(pool) == 54


def test_task_stream_epochs_and_resume():
    stream = TaskStream("rte", 10, 4, seed=1)
    first_epoch = [stream.next_indices() for _ in range(3)]
    assert [len(b) for b in first_epoch] == [4, 4, 2]  # the partial batch is yielded
    assert sorted(torch.cat(first_epoch).tolist()) == list(range(10))
    assert stream.state() == {"epoch": 1, "offset": 0}
    stream.next_indices()
    resumed = TaskStream("rte", 10, 4, seed=1, **stream.state())
    assert torch.equal(stream.next_indices(), resumed.next_indices())
    assert not torch.equal(TaskStream("rte", 10, 10, 1).next_indices(),
                           TaskStream("rte", 10, 10, 1, epoch=1).next_indices())


@pytest.fixture(scope="module")
def tasks(make):
    return {"pair": (make(10, pair=True, max_length=48), True), "single": (make(9), False)}


class _Stop(Exception):
    pass


def test_runs_checkpoints_and_resumes(tiny_eager, tasks, tmp_path):
    before = {k: v.clone() for k, v in tiny_eager.state_dict().items()}
    tiny_eager.train()
    config = MetaTrainConfig(updates=4, save_every=2, **SMALL)
    seen = []

    def stop_after_two(step, loss, rate):
        seen.append((step, loss, rate))
        if step == 2:
            raise _Stop

    with pytest.raises(_Stop):
        meta_train(tiny_eager, tasks, tmp_path / "run", config, callback=stop_after_two)
    assert latest_checkpoint(tmp_path / "run").name == "checkpoint-2"
    assert all(loss >= 0 and rate > 0 for _, loss, rate in seen)
    # the PLM is left as it was: weights, mode, requires_grad, no hooks
    assert tiny_eager.training and all(p.requires_grad for p in tiny_eager.parameters())
    assert all(torch.equal(v, before[k]) for k, v in tiny_eager.state_dict().items())
    assert not tiny_eager.bert.encoder.layer[0].attention.output.dense._forward_pre_hooks

    steps = []
    resumed = meta_train(tiny_eager, tasks, tmp_path / "run", config,
                         callback=lambda step, *_: steps.append(step))
    assert resumed.resumed_from == 2 and steps == [3, 4] and resumed.step == 4
    assert resumed.examples_per_s > 0 and len(resumed.losses) == 2
    assert latest_checkpoint(tmp_path / "run").name == "checkpoint-4"
    assert not resumed.cnn.training

    straight = meta_train(tiny_eager, tasks, tmp_path / "straight", config)
    for key, value in straight.cnn.state_dict().items():  # resuming changes nothing
        assert torch.equal(value, resumed.cnn.state_dict()[key]), key
    initial = HeadPrunerCNN(ndf=2)
    initial.reset_parameters(torch.Generator().manual_seed(SMALL["seed"]))
    assert not torch.equal(straight.cnn.main[0].weight, initial.main[0].weight)  # it learnt

    loaded = load_pruner_checkpoint(latest_checkpoint(tmp_path / "run"), ndf=2)
    assert torch.equal(loaded.main[0].weight, resumed.cnn.main[0].weight)

    done = meta_train(tiny_eager, tasks, tmp_path / "run", config)  # nothing left to do
    assert done.step == 4 and done.losses == []
    with pytest.raises(ValueError, match="other settings"):
        meta_train(tiny_eager, tasks, tmp_path / "run", MetaTrainConfig(
            updates=6, save_every=2, **{**SMALL, "batch_size": 3}))


def test_extending_a_finished_run(tiny_eager, tasks, tmp_path):
    config = MetaTrainConfig(updates=1, save_every=5, **SMALL)
    meta_train(tiny_eager, tasks, tmp_path, config)
    longer = meta_train(tiny_eager, tasks, tmp_path, MetaTrainConfig(updates=2, save_every=5,
                                                                     **SMALL))
    assert longer.resumed_from == 1 and longer.step == 2


def test_partial_batches_are_skipped(tiny_eager, make, tmp_path):
    tasks = {"odd": (make(6), False)}  # batch 4: every second batch is a partial one
    result = meta_train(tiny_eager, tasks, tmp_path, MetaTrainConfig(updates=2, **SMALL))
    assert result.skipped_partial == 2 and result.examples == 8


def test_validation(tiny_eager, make, tmp_path):
    with pytest.raises(ValueError, match="fewer than batch_size"):
        meta_train(tiny_eager, {"t": (make(3), True)}, tmp_path, MetaTrainConfig(**SMALL))
    with pytest.raises(ValueError, match="pair"):
        meta_train(tiny_eager, {"t": (make(8), "yes")}, tmp_path, MetaTrainConfig(**SMALL))
    with pytest.raises(ValueError, match="updates"):
        MetaTrainConfig(updates=0)


def test_nan_losses_are_skipped(tiny_eager, tasks, tmp_path, monkeypatch):
    import trainables.smp.meta_training as module

    monkeypatch.setattr(module, "_micro_loss", lambda *a: torch.tensor(float("nan")))
    result = meta_train(tiny_eager, tasks, tmp_path, MetaTrainConfig(updates=2, **SMALL))
    assert result.skipped_nan + result.skipped_partial == 4 and result.skipped_nan >= 1
    assert result.examples == 0 and result.losses == [0.0, 0.0]
