"""``dense_<task>``: fine-tune the whole model; the baseline of every front and CAP's teacher.

Searched: learning rate, epochs, warm-up ratio. Objective: the task's score.
"""

from __future__ import annotations

from typing import Any

from facts.columns import SCORE
from search_spaces.space import SearchSpace
from search_spaces.tasks import GLUE_TASKS


def define_dense(trial: Any) -> None:
    trial.suggest_float("learning_rate", 1e-5, 1e-4, log=True)
    trial.suggest_int("num_train_epochs", 2, 4)
    trial.suggest_float("warmup_ratio", 0.0, 0.1)


_PROFILES = {"smoke": {"num_train_epochs": 1}}


def dense_spaces() -> list[SearchSpace]:
    return [
        SearchSpace(
            name=f"dense_{task}",
            trainable="dense",
            description=f"dense fine-tune on {task.upper()}: lr, epochs, warm-up (baseline)",
            define=define_dense,
            objectives=((SCORE, "max"),),
            fixed={"task": task},
            profiles=_PROFILES,
        )
        for task in GLUE_TASKS
    ]
