"""The report keys: torch-free, one owner, and every key a trainable reports is known.

The contract test runs each trainable on its smoke profile (tiny model, a few steps, with
the final row's latency measured, so that every key a run can report is reported) and checks
that each key is a result column or a declared extra (``facts.columns``): the results writer
refuses any other key instead of dropping it, so a trainable that reports one would fail
every sweep.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from facts import columns as C
from tests.trainables.golden_rows import CASES, smoke_config


def test_report_keys_import_no_torch():
    code = ("import sys, trainables.report_keys as K; "
            "assert 'torch' not in sys.modules, 'torch imported'; print(K.IS_FINAL)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "is_final"


def test_report_keys_are_the_facts_names():
    from analysis import schema
    from trainables import report_keys as K

    assert K.SCORE is C.SCORE is schema.SCORE
    assert set(schema.COLUMNS) == set(C.COLUMN_TYPES)
    assert set(C.METRIC_COLUMNS) <= set(C.COLUMN_TYPES)
    assert not C.REPORT_EXTRAS & set(C.COLUMN_TYPES)  # an extra is not also a column


@pytest.mark.parametrize("method", sorted(CASES))
def test_every_key_a_trainable_reports_is_a_column_or_a_declared_extra(method, tmp_path):
    from trainables import run_function
    from trainables.reporting import RecordingReporter

    trainable, config = smoke_config(CASES[method])
    rec = RecordingReporter(tmp_path / "reports")
    run_function(trainable)({**config, "measure_latency": True,
                             "storage_root": str(tmp_path / "storage")}, rec)
    reported = set().union(*rec.metrics)
    assert C.unknown_report_keys(reported) == []
    assert {C.LATENCY_MS, C.SPEEDUP, C.TOTAL_STEPS} <= reported  # the final row's keys too


def test_the_fixed_work_trainable_reports_known_keys(tmp_path):
    from trainables import run_function
    from trainables.reporting import RecordingReporter

    rec = RecordingReporter(tmp_path / "reports")
    run_function("fixed_work")({"num_reports": 2, "work_s": 0.01}, rec)
    assert C.unknown_report_keys(set().union(*rec.metrics)) == []


def test_an_unknown_key_is_named():
    assert C.unknown_report_keys({C.SCORE, "scroe", C.BANK_BYTES}) == ["scroe"]
    assert C.is_report_key(C.param_column("x")) is False  # params come from the config
