"""``launch --targets``: bad input is one line and exit 2; a sweep records its targets."""

from __future__ import annotations

import json

import pytest

from analysis import schema as S
from analysis.io import read_results
from orchestrator.cli import main
from orchestrator.errors import UsageError
from orchestrator.target_plan import parse_targets


def _error(capsys) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


def test_parse_targets_sorts_and_accepts_good_lists():
    assert parse_targets("0.97,0.5,0.9") == (0.5, 0.9, 0.97)


@pytest.mark.parametrize(("text", "says"), [
    ("", "no empty entries"), ("0.5,,0.9", "no empty entries"), ("0.5,x", "'x' is not"),
    ("0", "outside (0, 1)"), ("1", "outside (0, 1)"), ("1.2", "outside (0, 1)"),
    ("-0.1", "outside (0, 1)"), ("nan", "outside (0, 1)"), ("0.9,0.5,0.9", "0.9 given twice"),
])
def test_bad_targets_are_one_line_and_exit_2(capsys, tmp_path, text, says):
    with pytest.raises(UsageError):
        parse_targets(text)
    code = main(["launch", "--space", "cap_topk_sst2", "--profile", "smoke", "--storage",
                 str(tmp_path), "--name", "bad", "--targets", text])
    assert code == 2
    assert says in _error(capsys)
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize(("args", "says"), [
    (["--space", "dense_sst2"], "does not prune"),
    (["--space", "calibrate"], "does not prune"),
    (["--space", "cap_topk_sst2", "--set", "final_threshold=0.1"], "drop the --set"),
    (["--space", "smp_sst2", "--targets", "0.5"], "head pruning reaches on this model: at most"),
    (["--space", "cap_topk_sst2", "--targets", "0.97"], "at most 0.9521"),
])
def test_targets_the_space_or_model_cannot_serve(capsys, tmp_path, args, says):
    argv = ["launch", "--profile", "smoke", "--storage", str(tmp_path), "--name", "bad",
            "--targets", "0.5,0.9", *args]
    assert main(argv) == 2
    assert says in _error(capsys)
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize(("space", "targets"), [
    ("cap_topk_sst2", (0.5, 0.9)), ("cap_soft_sst2", (0.5, 0.9)), ("smp_sst2", (0.1, 0.2))])
def test_a_target_sweep_aims_every_trial_and_records_it(ray_local, capsys, tmp_path, space,
                                                        targets):
    storage = tmp_path / "exps"
    code = main(["launch", "--space", space, "--profile", "smoke", "--num-samples", "3",
                 "--storage", str(storage), "--name", "t", "--seed", "1", "--targets",
                 ",".join(map(str, targets)), "--no-early-stop", "--quiet",
                 "--concurrency", "1"])
    out = capsys.readouterr().out
    assert code == 0, out
    record = json.loads((storage / "t" / "experiment.json").read_text())
    assert record["targets"] == list(targets)
    # the console says which knob is derived, and does not claim to search it
    searching = next(line for line in out.splitlines() if line.startswith("  searching"))
    knob = {"cap_topk_sst2": "final_threshold", "cap_soft_sst2": "final_lambda",
            "smp_sst2": "prune_ratio"}[space]
    assert knob not in searching
    assert f"{knob} is derived from each trial's target" in out
    final = read_results(storage / "t", strict=True)
    final = final[final[S.IS_FINAL]].sort_values(S.TRIAL_ID)
    assert len(final) == 3 and (final[S.STATUS] == S.STATUS_COMPLETED).all()
    # round robin: low, high, low (trial ids are not in trial order)
    assert sorted(final[S.TARGET_SPARSITY]) == [targets[0], targets[0], targets[1]]
    assert final[S.PREDICTED_SPARSITY].notna().all()
    if space.startswith("smp"):
        # the nearest head count: what the map predicted is what the pruned model has
        assert (final[S.WEIGHT_SPARSITY] - final[S.PREDICTED_SPARSITY]).abs().max() < 1e-9
        assert final[S.param_column("prune_ratio")].notna().all()
    elif space.startswith("cap_topk"):
        # exact: the achieved sparsity is the predicted one, and the keep ratio is derived
        assert (final[S.WEIGHT_SPARSITY] - final[S.PREDICTED_SPARSITY]).abs().max() < 1e-9
        assert (final[S.WEIGHT_SPARSITY] - final[S.TARGET_SPARSITY]).abs().max() < 0.01
        assert final[S.param_column("final_threshold")].notna().all()
    else:
        assert final[S.param_column("final_lambda")].gt(0).all()
        # the controller's landing (target mode's default) ends each trial on its target
        assert (final[S.WEIGHT_SPARSITY] - final[S.TARGET_SPARSITY]).abs().max() < 0.01
        assert "lambda controller, which lands on it" in out


def test_lambda_control_without_targets_needs_its_own_target(capsys, tmp_path):
    argv = ["launch", "--space", "cap_soft_sst2", "--profile", "smoke", "--storage",
            str(tmp_path), "--name", "bad", "--set", "lambda_control=true"]
    assert main(argv) == 2
    assert "lambda_control_target" in _error(capsys)
    assert not (tmp_path / "bad").exists()


def test_targets_steer_soft_trials_with_the_controller_by_default():
    from orchestrator.settings import build_settings
    from orchestrator.target_plan import plan_targets
    from search_spaces import get_space

    sweep = build_settings(get_space("cap_soft_sst2"), "smoke", aimed=True)
    plan = plan_targets("0.5,0.9", sweep)
    for trial_id, target in (("t0", 0.5), ("t1", 0.9)):
        config = plan.assign(trial_id, {"final_lambda": None, "target_sparsity": target,
                                        **sweep.settings})
        assert config["lambda_control"] is True  # recorded in the trial's config
        assert config["lambda_control_target"] == target


def test_lambda_control_false_opts_a_targeted_sweep_out_of_the_controller():
    from orchestrator.settings import build_settings
    from orchestrator.target_plan import plan_targets
    from search_spaces import get_space

    sweep = build_settings(get_space("cap_soft_sst2"), "smoke", sets=["lambda_control=false"],
                           aimed=True)
    config = plan_targets("0.5", sweep).assign(
        "t0", {"final_lambda": None, "target_sparsity": 0.5, **sweep.settings})
    assert config["lambda_control"] is False
    assert "lambda_control_target" not in config
