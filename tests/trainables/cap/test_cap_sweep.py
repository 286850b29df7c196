"""``cap`` sweeps through the CLI on a local Ray cluster, smoke profile (tiny BERT)."""

from __future__ import annotations

import dataclasses
from typing import Any

import optuna
import pytest

import search_spaces
from analysis import schema as S
from analysis.io import read_results
from orchestrator.cli import main
from search_spaces.cap import define_cap_topk
from trainables.artifacts import ArtifactStore

DIVERGING_LR = 1e30  # one AdamW step of this size overflows the next forward pass


def test_smoke_sweep_writes_one_final_row_per_trial(ray_local, tmp_path, capsys):
    code = main(["launch", "--space", "cap_soft_sst2", "--profile", "smoke", "--num-samples",
                 "2", "--storage", str(tmp_path), "--name", "x", "--no-dashboard", "--seed", "3"])
    out = capsys.readouterr().out
    assert code == 0, out

    df = read_results(tmp_path / "x", strict=True)
    final = df[df[S.IS_FINAL]]
    assert len(final) == 2 and final[S.TRIAL_ID].nunique() == 2
    assert (final[S.STATUS] == S.STATUS_COMPLETED).all()
    assert (final[S.METHOD] == "cap-soft").all() and (final[S.TASK] == "sst2").all()
    assert final[S.WEIGHT_SPARSITY].between(0.0, 1.0, inclusive="left").all()
    assert final[S.HEAD_SPARSITY].between(0.0, 1.0).all()
    assert (final[S.STEP] == 4).all() and sorted(df[S.ITERATION].unique()) == [1, 2]
    assert final[S.param_column("final_lambda")].between(100.0, 4000.0).all()
    # pinned by the smoke profile: recorded like a searched value (the value the trial used)
    pinned = search_spaces.get_space("cap_soft_sst2").settings("smoke")["extra_examples"]
    assert (df[S.param_column("extra_examples")] == pinned).all()
    removed = final[S.PARAMS_TOTAL] - final[S.PARAMS_REMAINING]
    assert list(final[S.WEIGHT_SPARSITY]) == pytest.approx(list(removed / final[S.PARAMS_TOTAL]))
    assert (final[S.WEIGHT_SPARSITY] > 0).any()  # the smoke's score lr lets soft scores fall
    # both trials needed the teacher: it was fine-tuned once
    kinds = [info.kind for info in ArtifactStore.under_storage(tmp_path).list()]
    assert kinds.count("teacher") == 1


def define_with_learning_rate(trial: Any) -> None:
    """CAP-m's space plus a learning rate of which one choice diverges (test only)."""
    define_cap_topk(trial)
    trial.suggest_categorical("learning_rate", [3e-5, DIVERGING_LR])


def _seed_giving(space: search_spaces.SearchSpace, overrides: dict, wanted: list) -> int:
    """A random-sampler seed whose first trials draw ``wanted`` learning rates, in order.

    The orchestrator's random sampler draws the same sequence from the same seed, so the sweep
    below runs a diverging trial first and a healthy one after it, on any Optuna version.
    """
    define = space.define_by_run("smoke", overrides)
    for seed in range(200):
        study = optuna.create_study(directions=["maximize", "maximize"],
                                    sampler=optuna.samplers.RandomSampler(seed=seed))
        drawn = []
        for _ in wanted:
            trial = study.ask()
            define(trial)
            drawn.append(trial.params["learning_rate"])
        if drawn == wanted:
            return seed
    pytest.fail(f"no random-sampler seed below 200 draws learning rates {wanted}")


def test_a_diverging_trial_is_recorded_and_the_sweep_goes_on(ray_local, tmp_path, capsys,
                                                             monkeypatch):
    base = search_spaces.get_space("cap_topk_sst2")
    space = dataclasses.replace(base, name="cap_topk_sst2_diverging",
                                define=define_with_learning_rate)
    monkeypatch.setitem(search_spaces.SPACES, space.name, space)
    # Warm-up 1 step: step 0 moves nothing (lr x 0), step 1 takes the full rate, the loss of
    # step 2 is NaN -- after the evaluation at step 2, so the diverging trial has a row.
    sets = {"warmup_steps": "1", "initial_warmup": "1", "final_warmup": "1"}
    overrides = {"warmup_steps": 1, "initial_warmup": 1.0, "final_warmup": 1.0}
    seed = _seed_giving(space, overrides, [DIVERGING_LR, 3e-5])
    argv = ["launch", "--space", space.name, "--profile", "smoke", "--num-samples", "2",
            "--concurrency", "1", "--sampler", "random", "--seed", str(seed),
            "--storage", str(tmp_path), "--name", "d", "--no-dashboard"]
    for key, value in sets.items():
        argv += ["--set", f"{key}={value}"]
    code = main(argv)
    out = capsys.readouterr().out
    assert code == 0, out  # one trial of two failed: the sweep still succeeds

    df = read_results(tmp_path / "d", strict=True)
    lr = S.param_column("learning_rate")
    diverged = df[df[lr] == DIVERGING_LR].sort_values(S.ITERATION)
    healthy = df[df[lr] == 3e-5]
    assert diverged[S.TRIAL_ID].nunique() == 1 and healthy[S.TRIAL_ID].nunique() == 1
    # the evaluation before the NaN is kept, then one terminal row says what happened
    assert list(diverged[S.STATUS]) == [S.STATUS_RUNNING, S.STATUS_DIVERGED]
    assert list(diverged[S.STEP]) == [2, 2] and diverged[S.IS_FINAL].tolist() == [False, True]
    assert "TrialDivergedError" in diverged[S.ERROR].iloc[-1]
    final = healthy[healthy[S.IS_FINAL]]
    assert len(final) == 1 and final[S.STATUS].iloc[0] == S.STATUS_COMPLETED
    assert final[S.METHOD].iloc[0] == "cap-m" and final[S.STEP].iloc[0] == 4
