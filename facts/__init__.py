"""Facts every layer states the same way, each with one owner; stdlib only.

Both the trainables (which write the facts) and the analysis (which reads them back) import
from here, and nothing here imports a sibling package or a third-party one, so the rule
"analysis imports no sibling package but ``facts``" costs neither side a dependency.

Modules:
    columns      every result column and every key a trainable reports: names, their
                 storage types in words, which ones a trainable reports, the declared extras
    tasks        per task: metrics, the primary metrics that make ``score``, label names,
                 number of labels, regression or not, the chance and majority-class rules
    targets      ``--targets``: the list's rule and when a trial landed on a target
    checkpoints  the names inside a trial checkpoint that export reads (the stock folder)

Example:
    >>> from facts import columns as C
    >>> C.SCORE, C.is_report_key(C.TOTAL_STEPS), C.is_report_key("scroe")
    ('score', True, False)
"""
