"""A 2-trial ``smp`` sweep through the CLI on a local Ray cluster, smoke profile."""

from __future__ import annotations

import pytest

import search_spaces
from analysis import schema as S
from analysis.io import read_results
from orchestrator.cli import main
from trainables.artifacts import ArtifactStore


def test_smoke_sweep_writes_one_final_row_per_trial(ray_local, tmp_path, capsys):
    code = main(["launch", "--space", "smp_sst2", "--profile", "smoke", "--num-samples", "2",
                 "--storage", str(tmp_path), "--name", "x", "--no-dashboard"])
    out = capsys.readouterr().out
    assert code == 0, out

    df = read_results(tmp_path / "x", strict=True)
    final = df[df[S.IS_FINAL]]
    assert len(final) == 2 and final[S.TRIAL_ID].nunique() == 2
    assert (final[S.STATUS] == S.STATUS_COMPLETED).all()
    assert (final[S.METHOD] == "smp").all() and (final[S.TASK] == "sst2").all()
    # pinned by the smoke profile: recorded like a searched value (the value the trial used)
    pinned = search_spaces.get_space("smp_sst2").settings("smoke")["allocation"]
    assert (df[S.param_column("allocation")] == pinned).all()
    for _, row in final.iterrows():
        ratio = row[S.param_column("prune_ratio")]
        assert 0.1 <= ratio <= 0.9
        # tiny BERT: 4 heads per layer, per-layer rule with exact counts keeps 4 - int(4r)
        assert row[S.HEAD_SPARSITY] == pytest.approx(int(4 * ratio) / 4)
        removed = row[S.PARAMS_TOTAL] - row[S.PARAMS_REMAINING]
        assert row[S.WEIGHT_SPARSITY] == pytest.approx(removed / row[S.PARAMS_TOTAL])
        assert (removed > 0) == (int(4 * ratio) > 0)
    # both trials needed the pruner; it was meta-trained once and scored once
    kinds = [info.kind for info in ArtifactStore.under_storage(tmp_path).list()]
    assert kinds.count("smp_pruner") == 1 and kinds.count("smp_scores") == 1
