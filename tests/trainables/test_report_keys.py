"""The report keys both sides share load without torch."""

from __future__ import annotations

import subprocess
import sys


def test_report_keys_import_no_torch():
    code = ("import sys, trainables.report_keys as K; "
            "assert 'torch' not in sys.modules, 'torch imported'; print(K.IS_FINAL)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "is_final"
