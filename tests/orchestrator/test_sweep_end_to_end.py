"""A real sweep on a local Ray cluster: Optuna proposes, Tune runs, Parquet receives."""

from __future__ import annotations

import json

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from analysis import schema as S
from analysis.io import read_results
from orchestrator.cli import main


def test_smoke_sweep_writes_valid_parquet_and_study(ray_local, tmp_path, capsys):
    storage = tmp_path / "exps"
    code = main(["launch", "--space", "dense_sst2", "--profile", "smoke", "--num-samples", "2",
                 "--storage", str(storage), "--name", "e2e", "--seed", "7"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "[2/2] trial" in out  # the compact progress line

    exp = storage / "e2e"
    record = json.loads((exp / "experiment.json").read_text())
    assert record["space"] == "dense_sst2" and record["profile"] == "smoke"
    assert "ray" in record["versions"] and record["num_samples"] == 2

    df = read_results(exp, strict=True)
    assert set(df[S.TRIAL_ID]) and df[S.TRIAL_ID].nunique() == 2
    final = df[df[S.IS_FINAL]]
    assert len(final) == 2 and (final[S.STATUS] == S.STATUS_COMPLETED).all()
    assert (final[S.METHOD] == "dense").all() and (final[S.TASK] == "sst2").all()
    assert (final[S.EXPERIMENT] == "e2e").all() and (final[S.PROFILE] == "smoke").all()
    assert final[S.param_column("learning_rate")].between(1e-5, 1e-4).all()
    assert not df.duplicated([S.TRIAL_ID, S.ITERATION]).any()
    assert sorted(df[S.ITERATION].unique()) == [1, 2]  # eval_every 2 of max_steps 4

    journal = JournalStorage(JournalFileBackend(str(exp / "optuna.journal")))
    study = optuna.load_study(study_name="e2e", storage=journal)
    states = [t.state for t in study.trials]
    assert states == [optuna.trial.TrialState.COMPLETE] * 2

    # Launching the same name again must not overwrite: it points to `resume`.
    code = main(["launch", "--space", "dense_sst2", "--profile", "smoke", "--storage",
                 str(storage), "--name", "e2e"])
    assert code == 2
    assert "resume e2e" in capsys.readouterr().err
