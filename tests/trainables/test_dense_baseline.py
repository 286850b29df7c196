"""The dense reference: one dense fine-tune per (model, task, profile) settings, shared.

Built once under the storage root and reused by every later sweep with the same settings (the
Ray task the orchestrator runs it in, twice, for two experiments); runtime-only settings do not
split it, a setting that changes what is learnt does.
"""

from __future__ import annotations

import json

import pytest

from trainables.dense_baseline import KIND, baseline_config, ensure_dense_baseline

SETTINGS = {"task": "sst2", "model": "tiny", "synthetic_data": True, "max_train_examples": 16,
            "max_eval_examples": 16, "max_seq_length": 16, "train_batch_size": 8,
            "max_steps": 2, "eval_every": 2, "num_threads": 1,
            # an SMP sweep's own settings: not the dense trainable's, left out
            "meta_updates": 2, "mask_exact_count": True}


def test_built_once_then_reused(tmp_path):
    settings = {**SETTINGS, "storage_root": str(tmp_path)}
    first = ensure_dense_baseline(settings)
    assert first["reused"] is False and first["eval_examples"] == 16
    assert 0.0 <= first["score"] <= 1.0 and first["score_se"] > 0
    folder = tmp_path / "_artifacts" / KIND
    assert first["artifact"].startswith(str(folder))
    built = (folder / first["artifact"].rsplit("/", 1)[1] / "metrics.json").stat().st_mtime_ns

    # another sweep: other threads and device (runtime only) -> the same reference, not rebuilt
    again = ensure_dense_baseline({**settings, "num_threads": 2, "device": "cpu"})
    assert again["reused"] is True and again["artifact"] == first["artifact"]
    assert again["score"] == first["score"]
    assert (folder / first["artifact"].rsplit("/", 1)[1] / "metrics.json").stat() \
        .st_mtime_ns == built
    assert len([p for p in folder.iterdir() if p.is_dir()]) == 1

    other = ensure_dense_baseline({**settings, "max_steps": 4})  # learns something else
    assert other["reused"] is False and other["artifact"] != first["artifact"]


def test_config_takes_the_sweeps_settings_and_dense_defaults():
    cfg = baseline_config({**SETTINGS, "learning_rate": 5e-5})
    assert cfg.max_steps == 2 and cfg.model == "tiny" and cfg.measure_latency is False
    assert cfg.learning_rate == 5e-5
    assert baseline_config(SETTINGS).learning_rate == 2e-5  # searched, so not in settings


def test_orchestrator_records_it_per_experiment(ray_local, tmp_path, capsys):
    from orchestrator import dense_reference
    from orchestrator.experiment import Experiment
    from orchestrator.sweep import Resources

    settings = {**SETTINGS, "storage_root": str(tmp_path)}
    records = []
    for name in ("first", "second"):
        experiment = Experiment.new(str(tmp_path), name)
        experiment.create({"space": "smp_sst2", "dense_baseline_wanted": True})
        assert dense_reference.pending(experiment.load())
        dense_reference.build_and_record(experiment, settings, Resources(1.0, 0.0))
        records.append(json.loads((tmp_path / name / "experiment.json").read_text()))
    out = capsys.readouterr().out
    assert "dense     baseline" in out and "(built," in out and "(reused," in out
    first, second = (r["dense_baseline"] for r in records)
    assert first["reused"] is False and second["reused"] is True
    assert first["artifact"] == second["artifact"] and first["score"] == second["score"]
    assert not dense_reference.pending(records[1])


def test_a_failed_build_is_recorded_not_fatal(ray_local, tmp_path, capsys):
    from orchestrator import dense_reference
    from orchestrator.experiment import Experiment
    from orchestrator.sweep import Resources

    experiment = Experiment.new(str(tmp_path), "broken")
    experiment.create({"space": "smp_sst2"})
    settings = {**SETTINGS, "storage_root": str(tmp_path), "model": str(tmp_path / "nowhere")}
    assert dense_reference.build_and_record(experiment, settings, Resources()) is None
    assert "could not be built" in capsys.readouterr().out
    assert "error" in experiment.load()["dense_baseline"]


@pytest.mark.parametrize("asked, trainable, profile, expected", [
    (None, "smp", "dev", True), (None, "smp", "smoke", False), (True, "smp", "smoke", True),
    (False, "smp", "paper", False), (None, "cap", "dev", False), (None, "dense", "dev", False),
])
def test_on_by_default_for_smp_except_smoke(asked, trainable, profile, expected):
    from orchestrator.dense_reference import wanted

    assert wanted(asked, trainable, profile) is expected


def test_asking_for_it_where_it_does_not_apply_is_refused():
    from orchestrator.dense_reference import wanted
    from orchestrator.errors import UsageError

    with pytest.raises(UsageError, match="--dense-baseline applies to SMP sweeps"):
        wanted(True, "cap", "dev")
