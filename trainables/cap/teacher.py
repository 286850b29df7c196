"""CAP's teacher: a fine-tuned model of the same task, for KD and the FiC bank (methods.md 2.5).

Without ``teacher_path`` the teacher is a shared artifact (kind ``teacher``): the dense
trainable fine-tunes the trial's model on the trial's training data once per (model, task,
training data, max_seq_length, teacher settings), under the storage root, and every later
trial and sweep reuses it. A teacher is checked before use: its labels and vocabulary must be
the task's and the student's, else :class:`TeacherMismatchError` says what differs.

Example:
    >>> prep = prepare(cfg)                                    # doctest: +SKIP
    >>> teacher = load_teacher(cfg, prep, 384)                 # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any

from torch import nn

from trainables import report_keys as K
from trainables.array_files import check_safetensors_folder
from trainables.artifacts import MANIFEST, ArtifactStore, store_or_temporary
from trainables.cap.config import CapConfig
from trainables.config import DenseConfig
from trainables.config import TrainConfig
from trainables.data import TaskData
from trainables.heartbeat import tagged
from trainables.models import load_classifier
from trainables.prepare import Prepared
from trainables.score_evidence import majority_score  # re-exported: its old home
from trainables.tasks import TaskSpec

TEACHER_KIND = "teacher"
VERSION = 1  # bump when a teacher's meaning changes, so old artifacts are not reused
_GENERIC_LABEL = re.compile(r"^LABEL_\d+$")
_TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer_config.json")


class TeacherMismatchError(ValueError):
    """The teacher does not fit the trial: other labels, vocabulary or hidden size."""


log = tagged("cap")  # progress lines


# The teacher's own settings: the dense fine-tune's field -> the CAP field that sets it.
TEACHER_SETTINGS = {"learning_rate": "teacher_learning_rate",
                    "num_train_epochs": "teacher_num_train_epochs",
                    "max_steps": "teacher_max_steps",
                    "train_batch_size": "teacher_train_batch_size", "seed": "teacher_seed"}
# The student's optimisation recipe, not the teacher's: CAP's 11,000-step warm-up (and any
# weight decay, epsilon, clipping or evaluation cadence set for the student) stays with the
# student; the teacher is a plain dense fine-tune with the defaults.
STUDENT_ONLY = ("weight_decay", "adam_epsilon", "max_grad_norm", "warmup_steps",
                "warmup_ratio", "eval_every")
TEACHER_FIXED = {"measure_latency": False}  # nobody reads a teacher's latency


def teacher_config(cfg: CapConfig) -> DenseConfig:
    """The dense fine-tune that builds the teacher: the trial's data and runtime, the teacher
    settings.

    Derived from the fields of :class:`~trainables.config.TrainConfig`: every field not named
    in ``TEACHER_SETTINGS``, ``STUDENT_ONLY`` or ``TEACHER_FIXED`` is the trial's own, so a new
    field reaches the teacher without an edit here.
    """
    inherited = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(TrainConfig)
                 if f.name not in (*TEACHER_SETTINGS, *STUDENT_ONLY, *TEACHER_FIXED)}
    own = {name: getattr(cfg, source) for name, source in TEACHER_SETTINGS.items()}
    return DenseConfig(**inherited, **own, **TEACHER_FIXED)


def train_fingerprint(data: TaskData) -> str:
    """A hash of the encoded training tensors: the data, the tokenizer and the length."""
    digest = hashlib.sha256()
    for key in ("input_ids", "token_type_ids", "attention_mask", "labels"):
        if key in data.train:
            digest.update(key.encode())
            digest.update(data.train[key].contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def teacher_inputs(cfg: CapConfig, data: TaskData) -> dict[str, Any]:
    """What determines a teacher: the artifact key's inputs."""
    return {
        "version": VERSION, "model": cfg.model, "task": cfg.task,
        "train": train_fingerprint(data), "rows": len(data.train["input_ids"]),
        "max_seq_length": cfg.max_seq_length,
        "settings": {**{name: getattr(cfg, source) for name, source in TEACHER_SETTINGS.items()},
                     "bf16": cfg.bf16},
    }


def build_teacher(cfg: CapConfig, out_dir: Path) -> None:
    """Fine-tune the teacher into ``out_dir`` (a ``save_pretrained`` folder)."""
    from trainables.dense import train_and_save

    dense = teacher_config(cfg)
    log(f"building the teacher: dense fine-tune of {cfg.model} on {cfg.task} "
        f"({dense.num_train_epochs:g} epochs, max_steps {dense.max_steps}, lr "
        f"{dense.learning_rate:g}, batch {dense.train_batch_size})")
    start = time.perf_counter()
    final = train_and_save(dense, out_dir)
    log(f"teacher built in {time.perf_counter() - start:.0f}s: score "
        f"{final.get('score', float('nan')):.4f} after {final.get('step')} steps")


def load_teacher(cfg: CapConfig, prep: Prepared, student_hidden: int) -> nn.Module:
    """The checked teacher in eval mode, frozen, on the trial's device.

    Raises:
        TeacherMismatchError: labels, vocabulary or hidden size differ from the trial's.
    """
    with store_or_temporary(prep.store, "cap-teacher-") as store:
        folder, _ = checked_teacher_folder(cfg, prep, store, student_hidden)
        return load_teacher_from(cfg, prep, folder)


def load_teacher_from(cfg: CapConfig, prep: Prepared, folder: Path) -> nn.Module:
    """The teacher of a checked ``folder``, in eval mode, frozen, on the trial's device."""
    teacher = load_classifier(str(folder), prep.task.num_labels, seed=cfg.teacher_seed)
    return teacher.to(prep.device).eval().requires_grad_(False)


def checked_teacher_folder(cfg: CapConfig, prep: Prepared, store: ArtifactStore,
                           student_hidden: int) -> tuple[Path, dict[str, Any]]:
    """The teacher's folder (built as an artifact if needed), checked, and its identity.

    The identity names exactly these weights, for the keys of what is computed from them
    (:mod:`trainables.cap.teacher_outputs`): the artifact's key and build time, or for
    ``teacher_path`` the resolved folder with its files' sizes and modification times.

    Raises:
        TeacherMismatchError: labels, vocabulary or hidden size differ from the trial's.
    """
    if cfg.teacher_path is not None:
        folder = Path(cfg.teacher_path).expanduser()
    else:
        folder = store.get_or_build(
            TEACHER_KIND, teacher_inputs(cfg, prep.data),
            lambda tmp: build_teacher(cfg, tmp),
            on_wait=lambda holder: log(f"waiting for the teacher built by {holder}"),
            validate=check_safetensors_folder)  # a truncated teacher is rebuilt, not loaded
    check_teacher(folder, prep.task, prep.tokenizer,
                  student_hidden if cfg.use_contrastive else None)
    check_teacher_strength(cfg, folder, None, prep)
    return folder, teacher_identity(folder, cfg.teacher_path is None)


def teacher_identity(folder: Path, is_artifact: bool) -> dict[str, Any]:
    """What names a teacher's weights (see :func:`checked_teacher_folder`)."""
    if is_artifact:  # a rebuilt artifact (same key, new weights) gets a new build time
        manifest = json.loads((folder / MANIFEST).read_text())
        return {"artifact": folder.name, "created": manifest.get("created")}
    files = {p.name: [p.stat().st_size, p.stat().st_mtime_ns]
             for p in sorted(folder.iterdir()) if p.is_file()}
    return {"path": str(folder.resolve()), "files": files}


class WeakTeacherError(ValueError):
    """The teacher scores at or below the majority-class score (within noise): distilling
    from it teaches a constant."""


def teacher_metrics(folder: Path, teacher: nn.Module | None, cfg: CapConfig,
                    prep: Prepared) -> dict[str, Any]:
    """The metrics recorded when the teacher was built (``score``, and ``score_se`` for
    teachers built since schema 3), else its metrics on the eval split (``teacher`` None:
    loaded from ``folder`` only then, since cached teacher outputs spare a trial the teacher
    model)."""
    record = folder / "metrics.json"
    if record.is_file():
        recorded = json.loads(record.read_text()).get("metrics", {})
        if isinstance(recorded.get(K.SCORE), (int, float)):
            return recorded
    from trainables.evaluation import evaluate

    if teacher is None:
        teacher = load_teacher_from(cfg, prep, folder)
    return evaluate(teacher, prep.data, batch_size=cfg.eval_batch_size, device=prep.device,
                    bf16=cfg.bf16, trim_padding=cfg.trim_padding)


def teacher_score(folder: Path, teacher: nn.Module | None, cfg: CapConfig,
                  prep: Prepared) -> float:
    """The teacher's ``score`` (:func:`teacher_metrics`)."""
    return float(teacher_metrics(folder, teacher, cfg, prep)[K.SCORE])


def check_teacher_strength(cfg: CapConfig, folder: Path, teacher: nn.Module | None,
                           prep: Prepared) -> None:
    """Refuse a teacher whose score is collapsed: below the majority-class score of the eval
    rows, or within 2 standard errors above it (:func:`trainables.score_evidence.is_collapsed`),
    unless ``allow_weak_teacher``."""
    from trainables.score_evidence import binomial_se, is_collapsed

    labels = next(iter(prep.data.evals.values()))["labels"].numpy()
    floor = majority_score(prep.task, labels)
    metrics = teacher_metrics(folder, teacher, cfg, prep)
    score = metrics.get(K.SCORE)
    se = metrics.get(K.SCORE_SE)
    if not isinstance(se, (int, float)):  # teachers recorded before se: from their rows
        accuracy = isinstance(score, (int, float)) and tuple(prep.task.primary) == ("accuracy",)
        se = binomial_se(score, len(labels)) if accuracy else float("nan")
    if isinstance(score, (int, float)) and not is_collapsed(score, floor, se):
        return  # NaN is never returned here: a teacher without a score is refused too
    where = (f"below the majority-class score {floor:.4f}" if not score >= floor else
             f"within noise of the majority-class score {floor:.4f} (less than 2 standard "
             f"errors above it, se {se:.4f} on {len(labels)} rows)")
    message = (f"teacher {folder} scores {score:.4f} on {prep.task.name}, {where}: distilling "
               "from it teaches no more than always answering the most frequent class")
    if cfg.allow_weak_teacher:
        log(f"warning: {message} (allow_weak_teacher=true: using it anyway)")
        return
    raise WeakTeacherError(f"{message}; train a better teacher (teacher_num_train_epochs, "
                           "teacher_learning_rate, teacher_path) or pass --set "
                           "allow_weak_teacher=true")


def check_teacher(folder: Path, task: TaskSpec, tokenizer: Any,
                  student_hidden: int | None) -> None:
    """Refuse a teacher that cannot teach this trial, saying what differs."""
    from transformers import AutoConfig

    if not (folder / "config.json").is_file():
        raise TeacherMismatchError(f"teacher {folder} is not a model folder (no config.json)")
    config = AutoConfig.from_pretrained(str(folder))
    _check_task(folder, task)
    _check_labels(folder, config, task)
    _check_vocabulary(folder, config, tokenizer)
    if student_hidden is not None and config.hidden_size != student_hidden:
        raise TeacherMismatchError(
            f"teacher {folder} has hidden size {config.hidden_size}, the student "
            f"{student_hidden}: the FiC bank compares their vectors, so they must be equal")


def _check_task(folder: Path, task: TaskSpec) -> None:
    # Teachers this project built say which task they learned (trainables.dense).
    record = folder / "metrics.json"
    if not record.is_file():
        return
    learned = json.loads(record.read_text()).get("config", {}).get("task")
    if learned is not None and learned != task.name:
        raise TeacherMismatchError(
            f"teacher {folder} was fine-tuned on {learned!r}, but this trial's task is "
            f"{task.name!r}")


def _check_labels(folder: Path, config: Any, task: TaskSpec) -> None:
    if config.num_labels != task.num_labels:
        raise TeacherMismatchError(
            f"teacher {folder} has {config.num_labels} labels, but task {task.name!r} has "
            f"{task.num_labels} ({', '.join(task.label_names) or 'regression'})")
    names = [str(config.id2label[i]) for i in range(config.num_labels)]
    if task.label_names and not all(_GENERIC_LABEL.match(n) for n in names):
        if [n.lower() for n in names] != [n.lower() for n in task.label_names]:
            raise TeacherMismatchError(
                f"teacher {folder} orders its labels {names}, but task {task.name!r} uses "
                f"{list(task.label_names)}; the KD targets would be permuted")


def _check_vocabulary(folder: Path, config: Any, tokenizer: Any) -> None:
    student = tokenizer.get_vocab()
    if any((folder / name).is_file() for name in _TOKENIZER_FILES):
        from transformers import AutoTokenizer

        theirs = AutoTokenizer.from_pretrained(str(folder)).get_vocab()
        if theirs != student:
            differ = len(set(theirs.items()) ^ set(student.items()))
            raise TeacherMismatchError(
                f"teacher {folder} has another vocabulary than the student's tokenizer "
                f"({len(theirs)} vs {len(student)} tokens, {differ} entries differ); "
                "it would read the student's token ids as other words")
    if config.vocab_size < len(student):
        raise TeacherMismatchError(
            f"teacher {folder} has {config.vocab_size} embeddings, but the student's "
            f"tokenizer has {len(student)} tokens")


__all__ = ["STUDENT_ONLY", "TEACHER_FIXED", "TEACHER_KIND", "TEACHER_SETTINGS", "TeacherMismatchError", "WeakTeacherError", "build_teacher",
           "teacher_metrics", "check_teacher", "check_teacher_strength", "checked_teacher_folder", "load_teacher",
           "load_teacher_from", "majority_score", "teacher_config", "teacher_identity",
           "teacher_inputs", "train_fingerprint"]
