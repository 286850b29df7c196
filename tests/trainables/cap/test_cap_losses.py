"""Task loss, KD and the L1 regulariser (methods.md 2.5)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from trainables.cap import PruningState
from trainables.cap import kd_loss
from trainables.cap import l1_regulariser
from trainables.cap import masked_linears
from trainables.cap import wrap_bert
from trainables.evaluation import task_loss
from trainables.models import load_classifier
from trainables.tasks import get_task


def test_kd_is_batchmean_kl_times_t_squared():
    student = torch.tensor([[0.2, 1.0, -0.5], [1.5, 0.0, 0.3]])
    teacher = torch.tensor([[1.0, 0.1, 0.0], [0.0, 2.0, -1.0]])
    t = 2.0
    p = F.softmax(teacher / t, dim=-1)
    q = F.softmax(student / t, dim=-1)
    expected = (p * (p.log() - q.log())).sum() / 2 * t**2
    assert kd_loss(student, teacher, t).item() == pytest.approx(expected.item(), rel=1e-6)
    assert kd_loss(teacher, teacher).item() == pytest.approx(0.0, abs=1e-7)
    assert kd_loss(torch.ones(4, 1), torch.zeros(4, 1)).item() == 0.0  # regression: no KD
    with pytest.raises(ValueError, match="temperature"):
        kd_loss(student, teacher, 0.0)


def test_task_loss_ce_or_mse_by_the_task():
    """CAP's cross-entropy term is every method's task loss (one rule for regression)."""
    logits = torch.tensor([[2.0, 0.0], [0.0, 1.0]])
    labels = torch.tensor([0, 0])
    assert task_loss(get_task("sst2"), logits, labels).item() == pytest.approx(
        F.cross_entropy(logits, labels).item()
    )
    scores = torch.tensor([1.0, 3.0])
    assert task_loss(get_task("stsb"), torch.tensor([[2.0], [2.0]]), scores).item() == \
        pytest.approx(1.0)


def test_l1_regulariser_is_mean_of_mean_sigmoid(tiny_model):
    wrap_bert(tiny_model, PruningState("soft"))
    assert l1_regulariser(tiny_model).item() == pytest.approx(0.5)  # sigmoid(0)
    modules = masked_linears(tiny_model)
    with torch.no_grad():
        modules[0].mask_scores.fill_(100.0)  # one matrix at sigmoid 1 of 24
    value = l1_regulariser(tiny_model)
    assert value.item() == pytest.approx((1.0 + 23 * 0.5) / 24)
    value.backward()
    assert modules[1].mask_scores.grad is not None
    with pytest.raises(ValueError, match="wrap_bert"):
        l1_regulariser(load_classifier("tiny", 2))
