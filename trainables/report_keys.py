"""The keys of a trainable's report: :mod:`facts.columns`, under the trainables' short name.

A trainable writes them, the orchestrator's searcher and early stopper read them, the results
writer stores the columns among them; every side imports the names from
:mod:`facts.columns` (this module re-exports the ones a trainable reports), so a rename
cannot leave one side reading a key nobody writes, and a key that is neither a column nor a
declared extra (``REPORT_EXTRAS``) is refused by the writer instead of being dropped.
Torch-free, like ``facts``, so ``python -m orchestrator --help`` stays light.

Example:
    >>> from trainables import report_keys as K
    >>> {K.IS_FINAL: True}
    {'is_final': True}
"""

from __future__ import annotations

# every key a trainable reports (METRIC_COLUMNS, the identity it knows, the extras)
from facts.columns import (  # noqa: F401
    ACCURACY, BANK_BYTES, COLLAPSED, DENSE_LATENCY_MS, DEVICE, ELAPSED_S, EPOCH,
    EVAL_EXAMPLES, EVAL_LABEL_COUNTS, EVAL_LOSS, EXAMPLES_PER_S, F1, HEAD_SPARSITY, IS_FINAL,
    LAMBDA_SCALE, LATENCY_MS, MAJORITY_SCORE, MCC, METHOD, METRIC_COLUMNS, MNLI_MM_ACCURACY,
    MODEL, NODE, PARAMS_REMAINING, PARAMS_TOTAL, PEARSON, REPORT_EXTRAS, SCORE, SCORE_SE, SEED,
    SPARSITY_SETTLED, SPEARMAN, SPEEDUP, STEP, TASK, TOTAL_STEPS, TRAIN_TIME_S, WEIGHT_SPARSITY,
    WORK_S, is_report_key, unknown_report_keys,
)
