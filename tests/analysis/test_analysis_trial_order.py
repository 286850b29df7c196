"""``analysis history`` follows the order the sweep proposed its trials, never the ids.

The journal is a real Optuna ``JournalStorage`` file, written the way the orchestrator's
searcher writes it (one Optuna trial per Tune trial, ``tune_trial_id`` user attribute).
"""

from __future__ import annotations

import os
import time

import pytest
from analysis_fixtures import write_experiment

from analysis import schema
from analysis.cli import main
from analysis.io import read_experiment
from analysis.trial_order import START_TIME
from analysis.trial_order import STUDY
from analysis.trial_order import TRIAL_ID
from analysis.trial_order import experiment_trial_order

# Random hex ids as Ray Tune makes them, listed in the order the study asked for them:
# sorting the ids would give 0a71e2c4, 5c0f9b13, 8f7553d7, e93d1f02 instead.
PROPOSED = ["e93d1f02", "8f7553d7", "0a71e2c4", "5c0f9b13"]
TRIALS = [  # each later trial raises the front, so the history shows the order
    {"trial_id": "e93d1f02", "score": 0.80, "weight_sparsity": 0.2},
    {"trial_id": "8f7553d7", "score": 0.85, "weight_sparsity": 0.5},
    {"trial_id": "0a71e2c4", "score": 0.70, "weight_sparsity": 0.9},
    {"trial_id": "5c0f9b13", "score": 0.90, "weight_sparsity": 0.6},
]


def write_journal(exp, order, warm_start: int = 1) -> None:
    optuna = pytest.importorskip("optuna")
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(str(exp / "optuna.journal")))
    study = optuna.create_study(study_name=exp.name, storage=storage,
                                directions=["maximize", "maximize"])
    for _ in range(warm_start):  # a warm-start trial has no Tune id: it takes a number
        study.enqueue_trial({"x": 0.5}, user_attrs={"warm_start": "old"})
        study.ask()
    for tune_id in order:
        trial = study.ask()
        trial.set_user_attr("tune_trial_id", tune_id)


def test_history_follows_the_study_not_the_ids(tmp_path, capsys) -> None:
    exp = write_experiment(tmp_path, "capq", TRIALS, task="sst2")
    write_journal(exp, PROPOSED)
    order = experiment_trial_order(exp, read_experiment(exp))
    assert order.source == STUDY and order.note == ""
    assert sorted(order.keys, key=order.keys.get) == PROPOSED
    assert order.keys["e93d1f02"] == 1.0  # study number 0 is the warm-start trial
    assert main(["history", str(exp), "--out", str(tmp_path / "h")]) == 0
    out = capsys.readouterr().out
    assert "trials in study trial number order" in out
    import pandas as pd

    table = pd.read_csv(tmp_path / "h" / "history.csv")
    assert table[schema.TRIAL_ID].tolist() == PROPOSED
    assert table["trial_number"].tolist() == [1, 2, 3, 4]
    assert table["hypervolume"].is_monotonic_increasing


def test_without_a_journal_the_start_times_order_the_trials(tmp_path, capsys) -> None:
    exp = write_experiment(tmp_path, "nojournal", TRIALS, task="sst2")
    now = time.time()
    for path in (exp / "results").glob("*.parquet"):
        trial = path.name.split("-it")[0]
        # each trial's files written an hour apart, in the proposed order
        os.utime(path, (now, now - 3600 * (len(PROPOSED) - PROPOSED.index(trial))))
    order = experiment_trial_order(exp, read_experiment(exp))
    assert order.source == START_TIME and "no readable optuna.journal" in order.note
    assert sorted(order.keys, key=order.keys.get) == PROPOSED
    assert main(["history", str(exp)]) == 0
    out = capsys.readouterr().out
    assert "estimated start time" in out
    assert out.index("e93d1f02") < out.index("5c0f9b13")


def test_a_journal_that_misses_trials_falls_back_with_a_note(tmp_path) -> None:
    exp = write_experiment(tmp_path, "partial", TRIALS, task="sst2")
    write_journal(exp, PROPOSED[:2], warm_start=0)
    order = experiment_trial_order(exp, read_experiment(exp))
    assert order.source == START_TIME and "does not name every trial" in order.note


def test_with_neither_the_ids_order_and_the_user_is_told(tmp_path, monkeypatch) -> None:
    import analysis.trial_order as trial_order

    exp = write_experiment(tmp_path, "bare", TRIALS, task="sst2")
    monkeypatch.setattr(trial_order, "file_start_times", lambda *a: None)
    order = experiment_trial_order(exp, read_experiment(exp))
    assert order.source == TRIAL_ID and "not the order the sweep proposed" in order.note


def test_a_broken_journal_falls_back_and_is_left_alone(tmp_path, capsys) -> None:
    exp = write_experiment(tmp_path, "broken", TRIALS, task="sst2")
    (exp / "optuna.journal").write_text("{not json\n")
    assert main(["history", str(exp)]) == 0
    out = capsys.readouterr().out
    assert "note: " in out and "optuna.journal" in out and "start time" in out
    assert (exp / "optuna.journal").read_text() == "{not json\n"  # read from a copy
    assert sorted(p.name for p in exp.iterdir()) == ["experiment.json", "optuna.journal",
                                                     "results"]
