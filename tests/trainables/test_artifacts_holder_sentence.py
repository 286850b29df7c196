"""The console names an artifact's builder in a sentence, not as a raw dict (issue 29)."""

from __future__ import annotations

import time

from trainables.artifacts import describe_holder


def test_a_holder_reads_as_a_sentence():
    line = describe_holder({"host": "vm", "pid": 6722, "since": time.time() - 125})
    assert line == "process 6722 on vm, for 2 min 5 s"
    assert describe_holder({"host": "vm", "pid": 7, "since": time.time()}) == \
        "process 7 on vm, for 0 s"
    assert describe_holder({"host": "?", "pid": -1}) == "a process on ?"
    assert "{" not in describe_holder({}) and "since" not in describe_holder({})
