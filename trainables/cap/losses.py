"""The non-contrastive terms of the CAP objective (methods.md 2.5).

``L = w_ce * task_loss + contrastive terms + w_kd * kd_loss + lambda(t) * l1_regulariser``
(the regulariser for CAP-soft only); ``task_loss`` is every method's,
:func:`trainables.evaluation.task_loss` (regression decided by the task).

Example:
    >>> logits = torch.tensor([[2.0, 0.0]])
    >>> float(kd_loss(logits, logits))
    0.0
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from trainables.cap.masked import masked_linears


def kd_loss(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 2.0
) -> torch.Tensor:
    """``KL(softmax(t/T) || softmax(s/T))``, batch mean, times ``T**2``.

    The teacher's logits are detached. With one output (regression) both softmaxes are 1 and
    the term is 0, as in the original.

    Example:
        >>> kd_loss(torch.tensor([[0.0, 1.0]]), torch.tensor([[1.0, 0.0]])) > 0
        tensor(True)
    """
    if not temperature > 0:
        raise ValueError(f"KD `temperature` must be > 0, but got {temperature=}")
    log_student = F.log_softmax(student_logits / temperature, dim=-1)
    teacher = F.softmax(teacher_logits.detach() / temperature, dim=-1)
    return F.kl_div(log_student, teacher, reduction="batchmean") * temperature**2


def l1_regulariser(model: nn.Module) -> torch.Tensor:
    """Mean over the masked matrices of ``mean(sigmoid(mask_scores))`` (CAP-soft's R).

    Example:
        >>> from trainables.cap.masked import PruningState, wrap_bert
        >>> from trainables.models import load_classifier
        >>> l1_regulariser(wrap_bert(load_classifier("tiny", 2), PruningState("soft"))).item()
        0.5
    """
    modules = masked_linears(model)
    if not modules:
        raise ValueError("l1_regulariser needs a model wrapped with wrap_bert (no MaskedLinear)")
    total = sum(torch.sigmoid(module.mask_scores).mean() for module in modules)
    return total / len(modules)
