"""Names the orchestrator writes and the analysis reads have one owner each."""

from __future__ import annotations

import pytest

from analysis import layout
from analysis import schema as S
from orchestrator.experiment import Experiment
from orchestrator.results import (
    DIVERGED_ERROR, consolidated_file, error_status, result_file, rows_dir_of,
)


@pytest.mark.parametrize("status", ["", S.STATUS_FAILED, S.STATUS_DIVERGED, S.STATUS_PRUNED])
def test_every_name_the_writer_gives_is_parsed_back(status):
    row = result_file("exp/_rows", "a1b2_3", 12, status)
    assert layout.parse_result_name(row) == layout.ResultName("a1b2_3", 12, False)
    upto = consolidated_file("exp/results", "a1b2_3", 12)
    assert layout.parse_result_name(upto) == layout.ResultName("a1b2_3", 12, True)
    assert layout.parse_result_name("exp/results/foreign.parquet") is None


def test_the_experiment_folder_uses_the_layout_names(tmp_path):
    experiment = Experiment.at(str(tmp_path), "e1")
    assert experiment.results_dir == f"{tmp_path}/e1/{layout.RESULTS_DIR}"
    assert experiment.metadata_file == f"{tmp_path}/e1/{layout.INFO_FILE}"
    assert experiment.journal == tmp_path / "e1" / layout.JOURNAL
    assert rows_dir_of(experiment.results_dir) == f"{tmp_path}/e1/{layout.ROWS_DIR}"


def test_divergence_is_recognised_by_the_trainables_error_class():
    from trainables.finetune import TrialDivergedError

    assert DIVERGED_ERROR == TrialDivergedError.__name__
    assert error_status(f"ray.exceptions.RayTaskError: {DIVERGED_ERROR}: training loss is "
                        "nan at step 3") == S.STATUS_DIVERGED
    assert error_status("RuntimeError: CUDA out of memory") == S.STATUS_FAILED


def test_the_searcher_and_the_trial_order_share_the_journal_attribute():
    from analysis import trial_order
    from orchestrator import search

    assert search.TUNE_TRIAL_ATTR is trial_order.TUNE_TRIAL_ATTR is layout.TUNE_TRIAL_ATTR
