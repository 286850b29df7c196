"""``python -m analysis export`` on real tiny trials: CAP, dense and SMP checkpoints.

The trials run through their trainables (no Ray) with a reporter that keeps every
checkpoint in a folder laid out as Ray Tune lays out a trial (``EXP/<name>_<id>/
checkpoint_NNNNNN``); the rows are written with the result schema. The exported folder must
load with ``AutoModelForSequenceClassification`` without a missing or resized weight, and
score on the trial's evaluation data exactly what its final row says.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from analysis import schema
from analysis.cli import main
from facts.checkpoints import EXPORT_DIR

torch = pytest.importorskip("torch")

COMMON = {"model": "tiny", "synthetic_data": True, "max_train_examples": 32,
          "max_eval_examples": 16, "max_seq_length": 32, "train_batch_size": 8,
          "eval_batch_size": 16, "max_steps": 4, "eval_every": 2, "measure_latency": False,
          "num_threads": 1}
TRIALS = {  # trainable -> (trial id, method, config)
    "cap": ("a1b2c3d4", "cap-soft", {"task": "toy_pair", "pruning_method": "soft",
                                      "final_lambda": 3000.0, "warmup_steps": 0,
                                      "teacher_max_steps": 2, "extra_examples": 16,
                                      "mask_scores_learning_rate": 1.0,
                                      # a 2-step tiny teacher: collapsed by design
                                      "allow_weak_teacher": True}),
    "dense": ("0f0e0d0c", "dense", {"task": "toy_pair"}),
    "smp": ("9e8d7c6b", "smp", {"task": "sst2", "meta_tasks": "sst2,mrpc", "meta_updates": 2,
                                "meta_batch_size": 4, "meta_accumulation": 1,
                                "meta_max_examples_per_task": 8, "mask_exact_count": True,
                                "prune_ratio": 0.5}),
}


def _run_trial(root: Path, trainable: str, storage: Path) -> tuple[Path, dict[str, Any]]:
    from trainables import run_function
    from trainables.reporting import RecordingReporter

    trial_id, method, settings = TRIALS[trainable]
    config = {**COMMON, **settings, "storage_root": str(storage)}
    exp = root / f"{trainable}_exp"
    (exp / "results").mkdir(parents=True)
    (exp / "experiment.json").write_text(json.dumps(
        {"name": exp.name, "space": f"{trainable}_x", "trainable": trainable,
         "profile": "smoke", "overrides": {"seed": 0}, "settings": config}))
    rec = RecordingReporter(root=exp / f"{trainable}_x_{trial_id}")
    run_function(trainable)(config, rec)
    for i, metrics in enumerate(rec.metrics, start=1):
        final = i == len(rec.metrics)
        row = {k: v for k, v in metrics.items() if k in schema.COLUMNS}
        row.update({schema.EXPERIMENT: exp.name, schema.SPACE: f"{trainable}_x",
                    schema.METHOD: method, schema.TASK: config["task"], schema.MODEL: "tiny",
                    schema.PROFILE: "smoke", schema.TRIAL_ID: trial_id, schema.SEED: 0,
                    schema.ITERATION: i, schema.IS_FINAL: final,
                    schema.STATUS: "completed" if final else "running",
                    schema.param_column("learning_rate"): 3e-4})
        pq.write_table(schema.rows_to_table([row]),
                       exp / "results" / f"{trial_id}-it{i:06d}.parquet")
    return exp, config


@pytest.fixture(scope="module")
def trials(tmp_path_factory) -> dict[str, tuple[Path, dict[str, Any]]]:
    root = tmp_path_factory.mktemp("export")
    torch.set_num_threads(1)
    return {t: _run_trial(root, t, root / "storage") for t in TRIALS}


def _score(folder: Path, config: dict[str, Any]) -> float:
    """The exported model's score on the trial's own evaluation data."""
    from transformers import AutoModelForSequenceClassification

    from trainables import config_class
    from trainables.config import from_mapping
    from trainables.evaluation import evaluate
    from trainables.prepare import prepare

    model, info = AutoModelForSequenceClassification.from_pretrained(
        str(folder), output_loading_info=True)
    assert not any(info.values()), info  # nothing missing, unexpected or resized
    prep = prepare(from_mapping(config_class("dense"), {
        k: v for k, v in config.items() if k in ("task", "model", "synthetic_data",
                                                  "max_train_examples", "max_eval_examples",
                                                  "max_seq_length", "storage_root")}))
    return evaluate(model.eval(), prep.data, batch_size=16, device=torch.device("cpu"),
                    bf16=False)["score"]


@pytest.mark.parametrize("trainable", list(TRIALS))
def test_export_loads_stock_and_scores_what_the_row_says(trials, trainable, tmp_path,
                                                        capsys) -> None:
    exp, config = trials[trainable]
    out = tmp_path / "model"
    # tiny models on 16 rows score at the majority class (collapsed): exported for the mechanics
    assert main(["export", str(exp), "--knee", "--include-collapsed", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"exported trial {TRIALS[trainable][0]}" in printed
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "README.md"} <= names
    assert "tokenizer_config.json" in names
    final = pq.read_table(sorted((exp / "results").glob("*.parquet"))[-1]).to_pylist()[0]
    assert _score(out, config) == pytest.approx(final[schema.SCORE], abs=1e-6)
    card = (out / "README.md").read_text()
    assert f"# {TRIALS[trainable][1]} on {config['task']}" in card
    assert f"| weight sparsity (encoder) | {final[schema.WEIGHT_SPARSITY]:.4g} |" in card
    assert "`learning_rate` = 0.0003" in card and "Pinned with `--set`: `seed=0`" in card
    # the score with its noise and what it rests on; this tiny trial is named collapsed
    assert f"{final[schema.SCORE]:.4g} +- {final[schema.SCORE_SE]:.4g} (1 standard error)" in card
    assert f"| evaluated rows | {final[schema.EVAL_EXAMPLES]} (one seed" in card
    assert "| collapsed | **yes**" in card
    # every method wrote its stock folder into its final checkpoint: export only copies it
    assert f"copied {exp}" in printed and f"/{EXPORT_DIR}" in printed


def test_a_checkpoint_without_the_stock_folder_says_how_to_get_one(trials, tmp_path,
                                                                    capsys) -> None:
    """A checkpoint of an older version (dense and SMP wrote no stock folder then)."""
    exp, _ = trials["dense"]
    old = tmp_path / "old"
    shutil.copytree(exp, old)
    for folder in old.glob(f"dense_x_*/checkpoint_*/{EXPORT_DIR}"):
        shutil.rmtree(folder)
    assert main(["export", str(old), "--include-collapsed", "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert f"holds no {EXPORT_DIR}/ folder" in err and "run the trial again" in err
    assert ("python -m orchestrator launch --space dense_x --profile smoke --num-samples 1 "
            "--set learning_rate=0.0003 --set seed=0") in err
    assert "python -m orchestrator resume dense_exp" in err
    assert not (tmp_path / "m").exists()


def test_checkpoint_path_column_wins_over_the_trial_folder(trials, tmp_path, capsys) -> None:
    exp, _ = trials["dense"]
    moved = tmp_path / "exp"
    shutil.copytree(exp, moved)
    trial_folder = next(p for p in moved.iterdir() if p.name.startswith("dense_x_"))
    # inside the experiment: a checkpoint_path outside it is refused (test_security_round2)
    elsewhere = moved / "kept" / "ckpt"
    elsewhere.parent.mkdir()
    shutil.move(str(sorted(trial_folder.glob("checkpoint_*"))[-1]), elsewhere)
    shutil.rmtree(trial_folder)
    results = sorted((moved / "results").glob("*.parquet"))
    row = pq.read_table(results[-1]).to_pylist()[0]
    assert main(["export", str(moved), "--include-collapsed", "--out", str(tmp_path / "a")]) == 2
    assert "no checkpoint of trial" in capsys.readouterr().err
    row[schema.CHECKPOINT_PATH] = elsewhere.as_uri()
    pq.write_table(schema.rows_to_table([row]), results[-1])
    assert main(["export", str(moved), "--trial", row[schema.TRIAL_ID][:4],
                 "--out", str(tmp_path / "b")]) == 0
    assert str(elsewhere) in capsys.readouterr().out


def test_export_input_errors(trials, tmp_path, capsys) -> None:
    exp, _ = trials["cap"]

    def error(*argv: str) -> str:
        assert main(["export", str(exp), *argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ")
        return err[0]

    assert "did you mean a1b2c3d4" in error("--trial", "a1b2c3d5", "--out", str(tmp_path / "x"))
    assert "no completed trial reaches --target 0.99" in error(
        "--target", "0.99", "--include-collapsed", "--out", str(tmp_path / "x"))
    # the knee of a sweep whose every trial collapsed is refused, with the way out named
    assert "collapsed to the majority-class score" in error("--out", str(tmp_path / "x"))
    assert "give 0..1" in error("--target", "90", "--out", str(tmp_path / "x"))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    assert "not empty" in error("--out", str(tmp_path / "full"))
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"  # nothing lost
    assert not (tmp_path / "x").exists()


def test_target_picks_the_best_score_at_that_sparsity(trials, tmp_path, capsys) -> None:
    exp, _ = trials["cap"]
    assert main(["export", str(exp), "--target", "0.0", "--include-collapsed",
                 "--out", str(tmp_path / "t")]) == 0
    assert "exported trial a1b2c3d4" in capsys.readouterr().out


def test_sparse_runs_the_trainables_sparse_cli(trials, tmp_path, monkeypatch, capsys) -> None:
    import subprocess

    from analysis import export as export_module

    calls: list[list[str]] = []

    def fake_run(argv, **kwargs):
        calls.append(argv)
        if argv[:3] == [sys.executable, "-m", "trainables.sparse"]:
            out = Path(argv[argv.index("--out") + 1])
            out.mkdir()
            (out / "sparse_plan.json").write_text("{}")
            return subprocess.CompletedProcess(argv, 0, "", "")
        return real_run(argv, **kwargs)

    real_run = subprocess.run
    monkeypatch.setattr(export_module.subprocess, "run", fake_run)
    exp, _ = trials["cap"]
    assert main(["export", str(exp), "--sparse", "--include-collapsed",
                 "--out", str(tmp_path / "s")]) == 0
    call = next(c for c in calls if "trainables.sparse" in c)
    assert call[3] == "convert" and call[-2:] == ["--out", call[-1]]
    assert {p.name for p in (tmp_path / "s").iterdir()} == {"sparse_plan.json", "README.md"}

    def missing(argv, **kwargs):
        return subprocess.CompletedProcess(
            argv, 1, "", "/usr/bin/python: No module named trainables.sparse")

    monkeypatch.setattr(export_module.subprocess, "run", missing)
    assert main(["export", str(exp), "--sparse", "--include-collapsed",
                 "--out", str(tmp_path / "m")]) == 2
    assert "lacks" in capsys.readouterr().err and not (tmp_path / "m").exists()


def test_analysis_export_imports_no_torch() -> None:
    import subprocess

    probe = ("import sys, analysis.export, analysis.cli\n"
             "print(sorted(m for m in ('torch', 'transformers', 'trainables') "
             "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True, cwd=Path(__file__).parents[2])
    assert result.stdout.strip() == "[]"
