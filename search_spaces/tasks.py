"""The GLUE task names spaces exist for (names only; the task table lives in trainables)."""

from __future__ import annotations

GLUE_TASKS = ("cola", "sst2", "mrpc", "qqp", "stsb", "mnli", "qnli", "rte")
