"""The end of a sweep whose trials mostly collapsed says so, instead of looking like a result."""

from __future__ import annotations

import pandas as pd

from analysis import schema as S
from orchestrator.finish import collapse_note


def _finals(flags):
    return pd.DataFrame({
        S.TRIAL_ID: [f"t{i}" for i in range(len(flags))], S.IS_FINAL: True,
        S.STATUS: S.STATUS_COMPLETED, S.COLLAPSED: flags, S.MAJORITY_SCORE: 0.53,
        S.EVAL_EXAMPLES: 200,
    })


def test_a_sweep_of_mostly_collapsed_trials_ends_with_one_line_saying_so():
    note = collapse_note(_finals([True, True, True, True, True, False]))
    assert note.startswith("warning: 5 of 6 completed trials collapsed")
    assert "0.53 on 200 evaluated rows" in note and "--include-collapsed" in note
    assert "max_steps" in note and "max_eval_examples" in note


def test_no_line_when_most_trials_learned_or_the_rows_predate_the_flag():
    assert collapse_note(_finals([True, False, False])) is None
    assert collapse_note(_finals([True, False])) is None  # half is not most
    assert collapse_note(_finals([None, None])) is None  # schema 2 rows: no flag, no claim
    running = _finals([True, True]).assign(**{S.IS_FINAL: False})
    assert collapse_note(running) is None  # only finished trials are judged
