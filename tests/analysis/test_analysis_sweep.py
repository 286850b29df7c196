"""The analysis over a real CAP smoke sweep on the local Ray cluster: the history follows the
study's trial numbers, the report carries the teacher and majority lines, and ``export``
finds the model in Ray's trial folder and writes a folder transformers loads."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import schema
from analysis.cli import main as analysis_main


@pytest.fixture(scope="module")
def cap_sweep(ray_local, tmp_path_factory):
    from orchestrator.cli import main

    storage = tmp_path_factory.mktemp("sweep") / "exps"
    code = main(["launch", "--space", "cap_soft_qqp", "--profile", "smoke", "--num-samples",
                 "3", "--concurrency", "1", "--storage", str(storage), "--name", "capq",
                 "--seed", "3", "--set", "final_lambda=4000", "--quiet"])
    assert code == 0
    return storage / "capq"


def test_history_is_in_the_studys_order(cap_sweep, tmp_path, capsys) -> None:
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    journal = JournalStorage(JournalFileBackend(str(cap_sweep / "optuna.journal")))
    study = optuna.load_study(study_name="capq", storage=journal)
    proposed = [t.user_attrs["tune_trial_id"] for t in sorted(study.trials,
                                                               key=lambda t: t.number)]
    assert analysis_main(["history", str(cap_sweep), "--out", str(tmp_path)]) == 0
    assert "trials in study trial number order" in capsys.readouterr().out
    assert pd.read_csv(tmp_path / "history.csv")[schema.TRIAL_ID].tolist() == proposed


def test_report_lines_and_export_of_the_knee(cap_sweep, tmp_path, capsys) -> None:
    from transformers import AutoModelForSequenceClassification

    # the smoke sweep's tiny trials score at the majority class: collapsed, kept here
    assert analysis_main(["pareto", str(cap_sweep), "--no-plot", "--include-collapsed"]) == 0
    out = capsys.readouterr().out
    # measured on the 16 generated rows the trials evaluated, not QQP's dev-set table value
    line = next(x for x in out.splitlines() if "majority class score (qqp)" in x)
    assert "measured on the 16 evaluated rows" in line and "0.3159" not in line
    assert "CAP teacher score (qqp):" in out and "teacher artifact" in out
    assert "Pinned with --set: final_lambda=4000" in out
    assert analysis_main(["export", str(cap_sweep), "--include-collapsed",
                          "--out", str(tmp_path / "m")]) == 0
    printed = capsys.readouterr().out
    assert "pruned_model" in printed and str(cap_sweep) in printed
    model, info = AutoModelForSequenceClassification.from_pretrained(
        str(tmp_path / "m"), output_loading_info=True)
    assert not any(info.values()) and model.config.num_labels == 2
    assert "final_lambda=4000" in (tmp_path / "m" / "README.md").read_text()
