"""Loading, subsetting, tokenising, caching and batching GLUE data."""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest
import torch

from trainables import data
from trainables import hub
from trainables.artifacts import ArtifactStore
from trainables.data import DataFormatError
from trainables.data import DataNotFoundError
from trainables.data import Examples
from trainables.data import batches
from trainables.data import encode
from trainables.data import load_split
from trainables.data import load_task_data
from trainables.data import subset
from trainables.data import tokenizer_fingerprint
from trainables.encoding import SEQUENCE_KEYS
from trainables.hub import HubUnavailableError
from trainables.models import load_tokenizer
from trainables.tasks import TASKS
from trainables.tasks import get_task

HF_LABEL = {"entailment": 0, "neutral": 1, "contradiction": 2}


@pytest.fixture(scope="module")
def tiny_tok():
    return load_tokenizer("tiny")


def _same(a: Examples, b: Examples) -> None:
    assert len(a) == len(b)
    assert a.text_a == b.text_a
    assert a.text_b == b.text_b
    assert a.labels.dtype == b.labels.dtype
    np.testing.assert_array_equal(a.labels, b.labels)


def _raw_rows(path):
    return [line.split("\t") for line in path.read_text(encoding="utf-8").split("\n") if line]


# -- folders: TSV and Parquet ---------------------------------------------------------------


@pytest.mark.parametrize("name", ["sst2", "cola", "mrpc"])
@pytest.mark.parametrize("split", ["train", "validation"])
def test_tsv_and_parquet_layouts_give_identical_examples(shared_glue, name, split):
    task = get_task(name)
    from_tsv = load_split(task, split, data_dir=shared_glue / "tsv")
    from_parquet = load_split(task, split, data_dir=shared_glue / "parquet")
    _same(from_tsv, from_parquet)
    assert len(from_tsv) > 400


def test_tsv_quirks_are_handled(shared_glue):
    mrpc = load_split(get_task("mrpc"), "train", data_dir=shared_glue / "tsv")
    assert mrpc.text_a[0].startswith("Amrozi accused")  # header (with its BOM) skipped
    assert mrpc.labels[0] == 1
    cola = load_split(get_task("cola"), "validation", data_dir=shared_glue / "tsv")
    assert len(cola) == 1043  # no header row to drop, no trailing newline to lose a row
    assert cola.text_a[0] == "The sailors rode the breeze clear of the rocks."
    sst2 = load_split(get_task("sst2"), "validation", data_dir=shared_glue / "tsv")
    assert sst2.text_a[0] == "it 's a charming and often affecting journey . "  # kept as is
    assert sst2.labels.dtype == np.int64 and sst2.text_b is None


def test_qqp_sample_parses_with_its_labels(shared_glue):
    for split, file in (("train", "train.tsv"), ("validation", "dev.tsv")):
        rows = _raw_rows(shared_glue / "tsv_samples" / "QQP" / file)
        ex = load_split(get_task("qqp"), split, data_dir=shared_glue / "tsv_samples")
        assert rows[0][3:] == ["question1", "question2", "is_duplicate"]
        assert ex.text_a == [r[3] for r in rows[1:]]
        assert ex.text_b == [r[4] for r in rows[1:]]
        assert ex.labels.tolist() == [int(r[5]) for r in rows[1:]]
        assert set(ex.labels.tolist()) == {0, 1}


def test_mnli_sample_maps_gold_labels_to_hf_order(shared_glue):
    for split, file in (("train", "train.tsv"), ("validation_matched", "dev_matched.tsv")):
        rows = _raw_rows(shared_glue / "tsv_samples" / "MNLI" / file)
        ex = load_split(get_task("mnli"), split, data_dir=shared_glue / "tsv_samples")
        assert ex.text_a == [r[8] for r in rows[1:]] and ex.text_b == [r[9] for r in rows[1:]]
        assert ex.labels.tolist() == [HF_LABEL[r[-1]] for r in rows[1:]]
        assert set(ex.labels.tolist()) == {0, 1, 2}


def test_mnli_sample_rows_found_in_parquet_have_the_same_label(shared_glue):
    tsv = load_split(get_task("mnli"), "train", data_dir=shared_glue / "tsv_samples")
    parquet = load_split(get_task("mnli"), "train", data_dir=shared_glue / "parquet")
    by_text = dict(zip(zip(parquet.text_a, parquet.text_b), parquet.labels.tolist()))
    shared = [(by_text[key], label) for key, label in
              zip(zip(tsv.text_a, tsv.text_b), tsv.labels.tolist()) if key in by_text]
    assert shared, "expected some sample rows among the Parquet training rows"
    assert all(a == b for a, b in shared)


def test_data_dir_may_be_the_task_folder_itself(shared_glue):
    by_root = load_split(get_task("cola"), "validation", data_dir=shared_glue / "parquet")
    _same(load_split(get_task("cola"), "validation", data_dir=shared_glue / "parquet" / "cola"),
          by_root)
    _same(load_split(get_task("cola"), "validation", data_dir=shared_glue / "tsv" / "CoLA"),
          by_root)


def test_sharded_parquet_is_read_in_shard_order(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "sst2"
    folder.mkdir()
    for shard, (texts, labels) in enumerate([(["a", "b"], [0, 1]), (["c"], [1])]):
        table = pa.table({"sentence": texts, "label": labels, "idx": list(range(len(texts)))})
        pq.write_table(table, folder / f"train-0000{shard}-of-00002.parquet")
    ex = load_split(get_task("sst2"), "train", data_dir=tmp_path)
    assert ex.text_a == ["a", "b", "c"] and ex.labels.tolist() == [0, 1, 1]


def test_parquet_without_the_task_columns_is_a_format_error(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "mrpc").mkdir()
    pq.write_table(pa.table({"sentence": ["a"], "label": [0]}),
                   tmp_path / "mrpc" / "train.parquet")
    with pytest.raises(DataFormatError, match="sentence1"):
        load_split(get_task("mrpc"), "train", data_dir=tmp_path)


def test_qqp_rows_missing_columns_are_skipped(tmp_path, caplog):
    (tmp_path / "QQP").mkdir()
    (tmp_path / "QQP" / "train.tsv").write_text(
        "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate\n"
        "1\t1\t2\tWhy?\tHow?\t0\n"
        "2\t3\t4\tbroken row\n"
        "3\t5\t6\tWhat?\tWhat \"now?\t1\n"
    )
    with caplog.at_level(logging.WARNING, logger="trainables.glue_sources"):
        ex = load_split(get_task("qqp"), "train", data_dir=tmp_path)
    assert ex.text_b == ["How?", 'What "now?'] and ex.labels.tolist() == [0, 1]
    assert "skipped 1 malformed" in caplog.text


def test_short_row_elsewhere_is_an_error_naming_file_and_line(tmp_path):
    (tmp_path / "MRPC").mkdir()
    path = tmp_path / "MRPC" / "dev.tsv"
    path.write_text("Quality\t#1 ID\t#2 ID\t#1 String\t#2 String\n1\t1\t2\tonly one\n")
    with pytest.raises(DataFormatError, match=f"{path}:2"):
        load_split(get_task("mrpc"), "validation", data_dir=tmp_path)


def test_unknown_text_label_is_an_error(tmp_path):
    (tmp_path / "RTE").mkdir()
    (tmp_path / "RTE" / "train.tsv").write_text(
        "index\tsentence1\tsentence2\tlabel\n0\ta\tb\tentailment\n1\ta\tb\tmaybe\n")
    with pytest.raises(DataFormatError, match="'maybe'"):
        load_split(get_task("rte"), "train", data_dir=tmp_path)


def test_stsb_tsv_labels_are_float32(tmp_path):
    (tmp_path / "STS-B").mkdir()
    (tmp_path / "STS-B" / "dev.tsv").write_text(
        "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore\n"
        "0\tmain\tf\t2012\t1\tnone\tnone\tA man.\tA person.\t4.25\n")
    ex = load_split(get_task("stsb"), "validation", data_dir=tmp_path)
    assert ex.labels.dtype == np.float32 and ex.labels.tolist() == [4.25]


# -- errors for missing data and the hub ----------------------------------------------------


def test_missing_data_dir_names_the_path(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(DataNotFoundError, match=str(missing)) as info:
        load_split(get_task("sst2"), "train", data_dir=missing)
    assert isinstance(info.value, FileNotFoundError)


def test_missing_split_names_every_path_looked_for(shared_glue):
    root = shared_glue / "tsv_samples"
    with pytest.raises(DataNotFoundError) as info:
        load_split(get_task("mnli"), "validation_mismatched", data_dir=root)
    message = str(info.value)
    assert str(root / "MNLI" / "dev_mismatched.tsv") in message
    assert str(root / "mnli" / "validation_mismatched.parquet") in message


def test_unknown_split_is_a_value_error(shared_glue):
    with pytest.raises(ValueError, match="validation_matched"):
        load_split(get_task("sst2"), "validation_matched", data_dir=shared_glue / "tsv")


def test_hub_offline_fails_fast_with_data_dir_hint(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    start = time.monotonic()
    with pytest.raises(HubUnavailableError, match="--data-dir"):
        load_split(get_task("sst2"), "validation", data_dir=None)
    assert time.monotonic() - start < 10


def test_hub_unreachable_without_offline_flag_fails_fast(monkeypatch):
    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(hub, "hub_reachable", lambda timeout_s=3.0: False)
    start = time.monotonic()
    with pytest.raises(HubUnavailableError, match="--data-dir"):
        load_split(get_task("mnli"), "validation_matched", data_dir=None)
    assert time.monotonic() - start < 10


def test_hub_dataset_is_converted_to_examples(monkeypatch):
    import datasets

    for var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr(hub, "hub_reachable", lambda timeout_s=3.0: True)
    calls = []

    def fake_load_dataset(path, name, split):
        calls.append((path, name, split))
        return {"premise": ["p"], "hypothesis": ["h"], "label": [2]}

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    ex = load_split(get_task("mnli"), "validation_mismatched", data_dir=None)
    assert calls == [("nyu-mll/glue", "mnli", "validation_mismatched")]
    assert (ex.text_a, ex.text_b, ex.labels.tolist()) == (["p"], ["h"], [2])


# -- synthetic data and subsets -------------------------------------------------------------


@pytest.mark.parametrize("name", list(TASKS))
def test_synthetic_data_is_shaped_like_the_task(name):
    task = TASKS[name]
    train = load_split(task, "train", data_dir=None, synthetic=True)
    evals = [load_split(task, s, data_dir=None, synthetic=True) for s in task.eval_splits]
    assert len(train) == 2000 and all(len(e) == 500 for e in evals)
    for ex in (train, *evals):
        assert (ex.text_b is not None) == task.is_pair
        if task.is_regression:
            assert ex.labels.dtype == np.float32
            assert 0.0 <= ex.labels.min() and ex.labels.max() <= 5.0
        else:
            assert ex.labels.dtype == np.int64
            assert set(ex.labels.tolist()) == set(range(task.num_labels))
    heads = [ex.text_a[:20] for ex in (train, *evals)]
    assert all(heads[i] != heads[j] for i in range(len(heads)) for j in range(i))
    _same(train, load_split(task, "train", data_dir=None, synthetic=True))


def test_toy_tasks_are_always_synthetic(tmp_path):
    ex = load_split(get_task("toy_pair"), "train", data_dir=tmp_path / "ignored",
                    synthetic_size=7)
    assert len(ex) == 7 and ex.text_b is not None


def test_subset_is_deterministic_and_keeps_order():
    ex = Examples([str(i) for i in range(100)], None, np.arange(100, dtype=np.int64))
    a, b = subset(ex, 10, seed=3), subset(ex, 10, seed=3)
    _same(a, b)
    assert len(a) == 10 and np.all(np.diff(a.labels) > 0)
    assert a.text_a == [str(i) for i in a.labels]
    assert subset(ex, 10, seed=4).labels.tolist() != a.labels.tolist()
    assert subset(ex, None, seed=0) is ex and subset(ex, 100, seed=0) is ex
    with pytest.raises(ValueError, match="max_examples"):
        subset(ex, 0, seed=0)


# -- encoding, caching, batching ------------------------------------------------------------


def test_encode_pads_and_numbers_rows(tiny_tok):
    ex = load_split(get_task("mrpc"), "train", data_dir=None, synthetic=True, synthetic_size=5)
    out = encode(ex, tiny_tok, 24)
    assert set(out) == {"input_ids", "attention_mask", "token_type_ids", "labels", "idx"}
    for key in SEQUENCE_KEYS:
        assert out[key].shape == (5, 24) and out[key].dtype == torch.int64
    assert out["token_type_ids"].max() == 1  # the second sentence is segment 1
    assert out["labels"].dtype == torch.int64 and out["labels"].tolist() == ex.labels.tolist()
    assert out["idx"].tolist() == list(range(5))
    stsb = load_split(get_task("stsb"), "train", data_dir=None, synthetic=True, synthetic_size=3)
    assert encode(stsb, tiny_tok, 24)["labels"].dtype == torch.float32


def test_encode_truncates_and_rejects_tiny_max_length(tiny_tok):
    ex = Examples(["good " * 50], ["bad " * 5], np.array([1]))
    out = encode(ex, tiny_tok, 16)
    assert out["attention_mask"].sum() == 16
    assert (out["token_type_ids"][0] == 1).sum() >= 5  # longest_first trims the long one
    with pytest.raises(ValueError, match="max_length"):
        encode(ex, tiny_tok, 3)


def test_encode_of_no_examples(tiny_tok):
    out = encode(Examples([], None, np.zeros(0, dtype=np.int64)), tiny_tok, 8)
    assert out["input_ids"].shape == (0, 8) and out["idx"].shape == (0,)


def _count_encode(monkeypatch):
    calls = []
    real = data.encode

    def counting(examples, tokenizer, max_length):
        calls.append(len(examples))
        return real(examples, tokenizer, max_length)

    monkeypatch.setattr(data, "encode", counting)
    return calls


def test_cache_hit_returns_equal_tensors_without_tokenising(tmp_path, tiny_tok, monkeypatch):
    calls = _count_encode(monkeypatch)
    store = ArtifactStore(tmp_path / "_artifacts")
    kwargs = dict(data_dir=None, synthetic=True, max_seq_length=32, max_train_examples=40,
                  max_eval_examples=12, cache=store)
    first = load_task_data(get_task("mnli"), tiny_tok, **kwargs)
    assert calls == [40, 12, 12]
    second = load_task_data(get_task("mnli"), tiny_tok, **kwargs)
    assert calls == [40, 12, 12]  # nothing tokenised again
    assert second.fingerprint == first.fingerprint
    for a, b in [(first.train, second.train)] + [
            (first.evals[s], second.evals[s]) for s in first.evals]:
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    [artifact] = store.list()
    assert artifact.kind == "tokenized"
    assert {p.name for p in artifact.path.glob("*.safetensors")} == {
        "train.safetensors", "validation_matched.safetensors",
        "validation_mismatched.safetensors"}


def test_cache_key_follows_settings_and_data(tmp_path, tiny_tok, monkeypatch):
    calls = _count_encode(monkeypatch)
    store = ArtifactStore(tmp_path)
    base = dict(data_dir=None, synthetic=True, max_train_examples=8, max_eval_examples=4,
                cache=store)
    a = load_task_data(get_task("sst2"), tiny_tok, max_seq_length=16, **base)
    b = load_task_data(get_task("sst2"), tiny_tok, max_seq_length=20, **base)
    c = load_task_data(get_task("cola"), tiny_tok, max_seq_length=16, **base)
    assert len({a.fingerprint, b.fingerprint, c.fingerprint}) == 3
    assert len(calls) == 6
    uncached = load_task_data(get_task("sst2"), tiny_tok, max_seq_length=16,
                              **{**base, "cache": None})
    assert uncached.fingerprint == a.fingerprint


def test_real_data_subsets_and_numbers_rows(shared_glue, tiny_tok):
    got = load_task_data(get_task("mrpc"), tiny_tok, data_dir=shared_glue / "parquet",
                         synthetic=False, max_seq_length=64, max_train_examples=50,
                         max_eval_examples=20, subset_seed=1)
    assert list(got.evals) == ["validation"]
    assert got.train["idx"].tolist() == list(range(50))
    assert got.evals["validation"]["idx"].tolist() == list(range(20))
    full = load_split(get_task("mrpc"), "train", data_dir=shared_glue / "parquet")
    assert got.train["labels"].tolist() == subset(full, 50, seed=1).labels.tolist()


def test_tokenizer_fingerprint_ignores_call_state_and_tells_tokenizers_apart(tiny_tok):
    minilm = load_tokenizer("minilm")
    before = tokenizer_fingerprint(minilm)
    minilm(["a b"], padding="max_length", truncation=True, max_length=9)
    assert tokenizer_fingerprint(minilm) == before
    assert tokenizer_fingerprint(tiny_tok) != before
    assert before["do_lower_case"] is True


def _padded_batch_data():
    mask = torch.zeros(6, 10, dtype=torch.int64)
    for row, length in enumerate([3, 7, 2, 5, 4, 6]):
        mask[row, :length] = 1
    ids = mask * torch.arange(1, 11)
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids),
            "labels": torch.arange(6) % 2, "idx": torch.arange(6)}


def test_batches_trim_to_longest_row_and_keep_last_short_batch():
    tensors = _padded_batch_data()
    got = list(batches(tensors, 4, shuffle=False))
    assert [b["input_ids"].shape for b in got] == [(4, 7), (2, 6)]
    assert torch.equal(got[0]["input_ids"], tensors["input_ids"][:4, :7])
    assert got[1]["labels"].shape == (2,)
    untrimmed = list(batches(tensors, 4, shuffle=False, trim_padding=False))
    assert [b["input_ids"].shape for b in untrimmed] == [(4, 10), (2, 10)]


def test_shuffled_batches_are_reproducible_and_cover_every_row():
    tensors = _padded_batch_data()

    def order(seed):
        gen = torch.Generator().manual_seed(seed)
        return torch.cat([b["idx"] for b in batches(tensors, 4, shuffle=True, generator=gen)])

    assert torch.equal(order(0), order(0))
    assert sorted(order(0).tolist()) == list(range(6))
    with pytest.raises(ValueError, match="batch_size"):
        batches(tensors, 0, shuffle=False)
    with pytest.raises(ValueError, match="same number of rows"):
        batches({**tensors, "idx": torch.arange(5)}, 2, shuffle=False)


def test_trimmed_batches_give_the_same_bert_outputs(tiny_tok):
    from trainables.models import load_classifier

    ex = load_split(get_task("mrpc"), "validation", data_dir=None, synthetic=True,
                    synthetic_size=8)
    tensors = encode(ex, tiny_tok, 64)
    model = load_classifier("tiny", 2).eval()
    inputs = ("input_ids", "attention_mask", "token_type_ids")
    with torch.no_grad():
        for trimmed, full in zip(batches(tensors, 4, shuffle=False),
                                 batches(tensors, 4, shuffle=False, trim_padding=False)):
            assert trimmed["input_ids"].shape[1] < 64
            a = model(**{k: trimmed[k] for k in inputs}).logits
            b = model(**{k: full[k] for k in inputs}).logits
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("model", ["tiny", "minilm"])
@pytest.mark.parametrize("name", ["sst2", "mrpc"])
def test_encode_matches_the_tokenizers_own_padding(shared_glue, model, name):
    tok = load_tokenizer(model)
    ex = subset(load_split(get_task(name), "validation", data_dir=shared_glue / "parquet"),
                100, seed=0)
    ours = encode(ex, tok, 48)
    theirs = tok(ex.text_a, ex.text_b, padding="max_length", truncation="longest_first",
                 max_length=48, return_tensors="pt", return_token_type_ids=True)
    for key in SEQUENCE_KEYS:
        assert torch.equal(ours[key], theirs[key].to(torch.int64)), key
    assert ours["attention_mask"].sum(1).max() == 48  # some rows were truncated


def test_examples_check_their_lengths_and_accept_label_lists():
    ex = Examples(["a", "b"], ["c", "d"], [1, 0])
    assert isinstance(ex.labels, np.ndarray) and len(ex) == 2
    with pytest.raises(ValueError, match="text_b"):
        Examples(["a", "b"], ["c"], [1, 0])
    with pytest.raises(ValueError, match="labels"):
        Examples(["a", "b"], None, [1])


# -- a GLUE root passed as --data-dir -------------------------------------------------------


def test_glue_root_reads_the_parquet_layout_inside(shared_glue):
    # ../shared/data/glue holds parquet/ and tsv/: the root is what a user passes first.
    from trainables.glue_sources import describe_source, find_split

    layout, files = find_split(get_task("sst2"), "validation", shared_glue)
    assert layout == "parquet"
    assert files == [shared_glue / "parquet" / "sst2" / "validation.parquet"]
    assert describe_source(get_task("sst2"), shared_glue) == \
        f"the Parquet layout in {shared_glue / 'parquet' / 'sst2'}"
    _same(load_split(get_task("sst2"), "validation", data_dir=shared_glue),
          load_split(get_task("sst2"), "validation", data_dir=shared_glue / "parquet"))


def test_glue_root_with_only_tsv_inside_reads_the_tsv_layout(tmp_path):
    from trainables.glue_sources import describe_source

    (tmp_path / "tsv" / "SST-2").mkdir(parents=True)
    (tmp_path / "tsv" / "SST-2" / "train.tsv").write_text("sentence\tlabel\na film\t1\n")
    ex = load_split(get_task("sst2"), "train", data_dir=tmp_path)
    assert ex.text_a == ["a film"] and ex.labels.tolist() == [1]
    assert describe_source(get_task("sst2"), tmp_path) == \
        f"the GLUE_DATA TSV layout in {tmp_path / 'tsv' / 'SST-2'}"


def test_a_folder_above_the_data_suggests_the_folder_inside(shared_glue, tmp_path):
    # The parent of the GLUE root holds nothing itself: the error names the folder to pass.
    above = shared_glue.parent
    with pytest.raises(DataNotFoundError) as info:
        load_split(get_task("sst2"), "train", data_dir=above)
    assert f"pass --data-dir {shared_glue}" in str(info.value)
    with pytest.raises(DataNotFoundError) as info:  # nothing anywhere below: no suggestion
        load_split(get_task("sst2"), "train", data_dir=tmp_path)
    assert "--data-dir" not in str(info.value)
