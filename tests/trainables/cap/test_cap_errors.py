"""Bad input to the ``cap`` trainable fails early with a message naming value and rule."""

from __future__ import annotations

import json

import pytest
from cap_trial import tiny_cap_config

from trainables.cap.config import CapConfig
from trainables.cap.teacher import TeacherMismatchError
from trainables.cap.teacher import check_teacher
from trainables.cap.trainable import run
from trainables.config import ConfigError
from trainables.config import from_mapping
from trainables.models import load_classifier
from trainables.models import tiny_tokenizer
from trainables.reporting import RecordingReporter
from trainables.tasks import get_task


@pytest.mark.parametrize(("settings", "message"), [
    ({"pruning_method": "magnitude"}, r"`pruning_method` must be one of topk, soft, but got"),
    ({"final_threshold": 0.0}, r"keep ratio in \(0, 1\] for pruning_method 'topk'.*0\.0"),
    ({"final_threshold": 1.5}, r"`final_threshold` must be a keep ratio in \(0, 1\]"),
    ({"initial_threshold": 1.2}, r"`initial_threshold` must be a keep ratio"),
    ({"pruning_method": "soft", "final_threshold": 1.0}, r"sigmoid threshold in \[0, 1\)"),
    ({"pruning_method": "soft", "final_threshold": 0.0}, r"> 0 for pruning_method 'soft'"),
    ({"pruning_method": "soft", "final_lambda": -1.0}, r"`final_lambda` must be >= 0"),
    ({"final_lambda": 100.0}, r"`final_lambda` must be 0 for pruning_method 'topk'"),
    ({"contrastive_temperature": 0.0}, r"`contrastive_temperature` must be > 0"),
    ({"kd_temperature": -2.0}, r"`kd_temperature` must be > 0"),
    ({"ce_loss_weight": -0.1}, r"`ce_loss_weight` must be >= 0"),
    ({"extra_examples": -1}, r"`extra_examples` must be >= 0"),
    ({"alignrep": "pooler"}, r"`alignrep` must be one of cls, mean-pooling"),
    ({"bank_dtype": "bfloat16"}, r"`bank_dtype` must be one of float32, float16"),
    ({"final_warmup": -1.0}, r"`final_warmup` must be >= 0"),
    ({"teacher_path": " "}, r"`teacher_path` must be None or a model folder"),
    ({"mask_scores_learning_rate": 0.0}, r"`mask_scores_learning_rate` must be > 0"),
])
def test_config_errors_name_value_and_rule(settings, message):
    with pytest.raises(ConfigError, match=message):
        from_mapping(CapConfig, settings)


def test_unknown_key_is_refused_with_a_suggestion():
    with pytest.raises(ConfigError, match="did you mean 'final_lambda'"):
        from_mapping(CapConfig, {"final_lamda": 3.0})


def test_method_defaults_follow_the_scripts():
    topk = from_mapping(CapConfig, {})
    soft = from_mapping(CapConfig, {"pruning_method": "soft"})
    assert (topk.initial_threshold, topk.final_threshold, topk.final_lambda) == (1.0, 0.03, 0.0)
    assert (soft.initial_threshold, soft.final_threshold, soft.final_lambda) == (0.0, 0.1, 550.0)
    assert (topk.learning_rate, topk.mask_scores_learning_rate, topk.warmup_steps) == \
        (3e-5, 1e-2, 11000)
    assert from_mapping(CapConfig, {"use_contrastive": False}).method_name == "movement"


def test_schedule_that_does_not_fit_fails_before_the_teacher(tmp_path):
    config = tiny_cap_config(tmp_path, warmup_steps=3)  # (2 + 3) * 3 = 15 > 12 steps
    with pytest.raises(ConfigError, match=r"schedule does not fit.*15 steps.*12 steps"):
        run(config, RecordingReporter())
    assert not (tmp_path / "_artifacts" / "teacher").exists()


def _teacher_folder(path, num_labels=2, tokenizer=None, task=None):
    load_classifier("tiny", num_labels).save_pretrained(path)
    (tokenizer or tiny_tokenizer()).save_pretrained(path)
    if task is not None:
        (path / "metrics.json").write_text(json.dumps({"config": {"task": task}}))
    return path


def test_teacher_with_other_labels_is_refused(tmp_path):
    folder = _teacher_folder(tmp_path / "t", num_labels=3)
    with pytest.raises(TeacherMismatchError, match=r"3 labels, but task 'sst2' has 2"):
        check_teacher(folder, get_task("sst2"), tiny_tokenizer(), None)


def test_teacher_with_other_label_order_is_refused(tmp_path):
    from transformers import AutoConfig

    folder = _teacher_folder(tmp_path / "t", num_labels=3)
    config = AutoConfig.from_pretrained(folder)
    config.id2label = {0: "contradiction", 1: "neutral", 2: "entailment"}
    config.label2id = {v: k for k, v in config.id2label.items()}
    config.save_pretrained(folder)
    with pytest.raises(TeacherMismatchError, match="permuted"):
        check_teacher(folder, get_task("mnli"), tiny_tokenizer(), None)


def test_teacher_with_other_vocabulary_is_refused(tmp_path):
    from transformers import BertTokenizer

    vocab = dict(tiny_tokenizer().get_vocab())
    vocab["zebra"] = vocab.pop("film")  # one word swapped: same size, other ids
    other = BertTokenizer(vocab=vocab, do_lower_case=True)
    folder = _teacher_folder(tmp_path / "t", tokenizer=other)
    with pytest.raises(TeacherMismatchError, match="another vocabulary"):
        check_teacher(folder, get_task("sst2"), tiny_tokenizer(), None)


def test_teacher_of_another_task_or_size_is_refused(tmp_path):
    folder = _teacher_folder(tmp_path / "t", task="mrpc")
    with pytest.raises(TeacherMismatchError, match="fine-tuned on 'mrpc'.*'sst2'"):
        check_teacher(folder, get_task("sst2"), tiny_tokenizer(), None)
    folder = _teacher_folder(tmp_path / "u")
    with pytest.raises(TeacherMismatchError, match="hidden size 32, the student 64"):
        check_teacher(folder, get_task("sst2"), tiny_tokenizer(), 64)


def test_a_trial_with_a_mismatched_teacher_path_fails_clearly(tmp_path):
    folder = _teacher_folder(tmp_path / "t", num_labels=3)
    config = tiny_cap_config(tmp_path, teacher_path=str(folder))
    with pytest.raises(TeacherMismatchError, match="3 labels"):
        run(config, RecordingReporter())
    missing = tiny_cap_config(tmp_path, teacher_path=str(tmp_path / "nowhere"))
    with pytest.raises(TeacherMismatchError, match="not a model folder"):
        run(missing, RecordingReporter())
