"""Keys of a trainable's report that the orchestrator reads while a sweep runs.

A trainable writes them, the orchestrator's searcher and early stopper read them; both sides
import these names, so a rename cannot leave one side reading a key nobody writes. Torch-free
(imports nothing), so ``python -m orchestrator --help`` stays light. ``analysis`` reads the
stored rows through its own schema (it imports no sibling package).

Example:
    >>> from trainables import report_keys as K
    >>> {K.IS_FINAL: True}
    {'is_final': True}
"""

from __future__ import annotations

STEP = "step"  # optimizer steps done at this report
TOTAL_STEPS = "total_steps"  # optimizer steps of the whole trial
IS_FINAL = "is_final"  # True on the trial's last report only
# True once sparsity no longer changes (always for dense and SMP; CAP after its threshold
# schedule): multi-objective early stopping compares trials only from that point on.
SPARSITY_SETTLED = "sparsity_settled"

# the four sparsity columns, all by the one counting rule of trainables.sparsity
WEIGHT_SPARSITY = "weight_sparsity"
HEAD_SPARSITY = "head_sparsity"
PARAMS_TOTAL = "params_total"
PARAMS_REMAINING = "params_remaining"
