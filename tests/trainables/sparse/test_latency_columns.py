"""Every method's final row carries latency_ms, dense_latency_ms and speedup, or none of them."""

from __future__ import annotations

import pytest

from analysis import schema as S
from trainables import cap, dense
from trainables.reporting import RecordingReporter
from search_spaces.profiles import get_profile

LATENCY = (S.LATENCY_MS, S.DENSE_LATENCY_MS, S.SPEEDUP)


def _tiny(storage, **overrides):
    config = {
        "task": "toy_single", "model": "tiny", "synthetic_data": True,
        "max_train_examples": 32, "max_eval_examples": 16, "max_seq_length": 32,
        "train_batch_size": 8, "eval_batch_size": 16, "max_steps": 4, "eval_every": 2,
        "storage_root": str(storage), "num_threads": 1,
    }
    config.update(overrides)
    return config


def _cap(storage, **overrides):
    return _tiny(storage, pruning_method="topk", final_threshold=0.05, warmup_steps=1,
                 max_steps=6, eval_every=3,
                 teacher_max_steps=2, extra_examples=16, mask_scores_learning_rate=1.0,
                 allow_weak_teacher=True,  # a 2-step tiny teacher: collapsed by design
                 **overrides)


def _assert_final_only(metrics):
    first, last = metrics[0], metrics[-1]
    assert not any(column in first for column in LATENCY)  # measured once, at the end
    assert last[S.LATENCY_MS] > 0 and last[S.DENSE_LATENCY_MS] > 0
    assert last[S.SPEEDUP] == pytest.approx(last[S.DENSE_LATENCY_MS] / last[S.LATENCY_MS])


@pytest.mark.parametrize("method,config", [(dense, _tiny), (cap, _cap)], ids=["dense", "cap"])
def test_final_row_has_paired_latency_and_speedup(tmp_path, method, config):
    rec = RecordingReporter()
    method.run(config(tmp_path), rec)
    _assert_final_only(rec.metrics)


def test_cap_times_its_model_through_the_sparse_path(tmp_path, monkeypatch):
    import trainables.sparse as sparse

    seen = []
    real = sparse.sparsify

    def spy(model, tokens, **kwargs):
        seen.append(tokens)
        return real(model, tokens, **kwargs)

    monkeypatch.setattr(sparse, "sparsify", spy)
    rec = RecordingReporter()
    cap.run(_cap(tmp_path), rec)
    assert seen == [16 * 32]  # the latency batch: 16 eval rows at full length 32
    assert list((tmp_path / "_artifacts" / "sparse_timings").glob("*.json"))  # cached verdicts


@pytest.mark.parametrize("method,config", [(dense, _tiny), (cap, _cap)], ids=["dense", "cap"])
def test_switched_off_no_latency_and_null_columns(tmp_path, method, config):
    rec = RecordingReporter()
    method.run(config(tmp_path, measure_latency=False), rec)
    assert not any(column in m for m in rec.metrics for column in LATENCY)
    table = S.rows_to_table([{k: v for k, v in m.items() if k in S.COLUMNS}
                             for m in rec.metrics])
    for column in LATENCY:
        assert table.column(column).null_count == table.num_rows


def test_smoke_profile_skips_the_measurement():
    assert get_profile("smoke").settings["measure_latency"] is False
    assert "measure_latency" not in get_profile("demo").settings


def test_a_cap_model_kept_all_dense_reports_speedup_exactly_one(tmp_path):
    # The tiny CAP trial keeps every layer dense (none is sparse enough to be worth timing
    # in CSR), so its "sparse" model is the dense one: the paired timing's noise must not be
    # reported (or optimised) as a speed-up.
    rec = RecordingReporter()
    cap.run(_cap(tmp_path), rec)
    final = rec.metrics[-1]
    assert final["speedup"] == 1.0
    assert final["latency_ms"] == final["dense_latency_ms"] > 0


def test_same_model_latency_pools_the_two_medians():
    from trainables.latency import same_model_latency

    assert same_model_latency({"latency_ms": 9.0, "dense_latency_ms": 11.0, "speedup": 1.22}) \
        == {"latency_ms": 10.0, "dense_latency_ms": 10.0, "speedup": 1.0}
