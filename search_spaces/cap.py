"""``cap_soft_<task>`` and ``cap_topk_<task>``: contrastive pruning, CAP-soft and CAP-m.

Searched: the sparsity knob (``final_lambda`` for soft, on a log range around the README's
190-2000; the final keep ratio 0.02-0.5 for top-k), the contrastive temperature, the
unsupervised and supervised contrastive weights, the CE and distillation weights and the
number of extra bank examples. Objectives: score up, weight sparsity up.

Every trial of a sweep shares one fine-tuned teacher (a shared artifact under the storage
root). ``--set use_contrastive=false`` turns a space into its baseline (plain movement or soft
movement pruning, with KD) so both run in one study. Profiles:

- ``paper``: the shipped scripts (methods.md 2.11): bert-base, batch 32, 10 epochs, length
  128, warm-up 11000 steps on QQP and MNLI; the smaller tasks cannot fit 5 x 11000 steps of
  flat schedule in 10 epochs, so they keep the scripts' proportion (warm-up 10% of the run).
- ``dev``: MiniLM on an 8000-example subset, 3 epochs (750 steps); the schedule keeps the
  scripts' shape (warm-up 10%, flat 2 + 3 warm-ups) and the score learning rate is raised so
  scores can travel as far in a few hundred steps as in the paper's 100k
  (benchmarks/cap_fidelity.py).
- ``demo``: MiniLM on generated data, a few dozen steps, small teacher and banks; minutes.
- ``smoke``: the tiny random BERT, 4 steps; for tests.
"""

from __future__ import annotations

from typing import Any

from facts.columns import SCORE, WEIGHT_SPARSITY
from search_spaces.space import SearchSpace
from search_spaces.tasks import GLUE_TASKS

# Tasks whose training set fits the scripts' 11000 warm-up steps (flat 5 x 11000 of 10 epochs).
SCRIPT_WARMUP_TASKS = ("qqp", "mnli")
OBJECTIVES = ((SCORE, "max"), (WEIGHT_SPARSITY, "max"))


def _define_common(trial: Any) -> None:
    trial.suggest_float("contrastive_temperature", 0.03, 0.3, log=True)
    trial.suggest_float("cl_unsupervised_loss_weight", 0.01, 1.0, log=True)
    trial.suggest_float("cl_supervised_loss_weight", 1.0, 30.0, log=True)
    trial.suggest_float("ce_loss_weight", 0.03, 1.0, log=True)
    trial.suggest_float("distill_loss_weight", 0.3, 1.0)
    trial.suggest_int("extra_examples", 512, 8192, log=True)


def define_cap_soft(trial: Any) -> None:
    trial.suggest_float("final_lambda", 100.0, 4000.0, log=True)
    _define_common(trial)


def define_cap_topk(trial: Any) -> None:
    trial.suggest_float("final_threshold", 0.02, 0.5, log=True)
    _define_common(trial)


def _paper(task: str) -> dict[str, Any]:
    warmup: dict[str, Any] = {"warmup_steps": 11000} if task in SCRIPT_WARMUP_TASKS else \
        {"warmup_steps": 0, "warmup_ratio": 0.1}
    return {"train_batch_size": 32, "num_train_epochs": 10, "max_seq_length": 128,
            "learning_rate": 3e-5, "mask_scores_learning_rate": 1e-2, **warmup}


_SCALED = {"warmup_steps": 0, "warmup_ratio": 0.1}
_DEV = {**_SCALED, "num_train_epochs": 3, "mask_scores_learning_rate": 0.1}
# 60 steps of 384 generated pairs (2 evaluations): a score lr of 0.3 lets final_lambda
# 100..4000 span roughly 20%..99% sparsity in so few steps, and the teacher needs 60 steps
# at 1e-4 to learn the pairs (score ~0.78). The students need 1e-4 too: at the scripts' 3e-5
# every demo trial ended at the majority-class score. About 2 minutes for 4 trials on 2 cores.
_DEMO = {**_SCALED, "num_train_epochs": 5, "mask_scores_learning_rate": 0.3,
         "learning_rate": 1e-4,
         "extra_examples": 256, "teacher_num_train_epochs": 5, "teacher_learning_rate": 1e-4,
         "eval_every": 30}
# Smoke teachers train 4 steps of a random tiny BERT: weak by design, accepted for tests.
_SMOKE = {"warmup_steps": 0, "teacher_max_steps": 4, "extra_examples": 16,
          "mask_scores_learning_rate": 1.0, "allow_weak_teacher": True}


def _profiles(task: str) -> dict[str, dict[str, Any]]:
    return {"paper": _paper(task), "dev": dict(_DEV), "demo": dict(_DEMO),
            "smoke": dict(_SMOKE)}


def cap_spaces() -> list[SearchSpace]:
    spaces = []
    for task in GLUE_TASKS:
        spaces.append(SearchSpace(
            name=f"cap_soft_{task}", trainable="cap",
            description=f"CAP-soft on {task.upper()}: final_lambda, contrastive temperature "
                        "and weights, CE/KD weights, extra examples",
            define=define_cap_soft, objectives=OBJECTIVES,
            fixed={"task": task, "pruning_method": "soft"}, profiles=_profiles(task)))
        spaces.append(SearchSpace(
            name=f"cap_topk_{task}", trainable="cap",
            description=f"CAP-m on {task.upper()}: final keep ratio, contrastive temperature "
                        "and weights, CE/KD weights, extra examples",
            define=define_cap_topk, objectives=OBJECTIVES,
            fixed={"task": task, "pruning_method": "topk"}, profiles=_profiles(task)))
    return spaces
