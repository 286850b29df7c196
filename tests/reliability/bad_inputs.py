"""The bad-input corpus: every input that once hung, gave a silent wrong result or failed late.

One table. Each :class:`Case` names the input, builds what it needs under a temporary folder
and returns the command line; the test runs it in-process and expects exactly one line on
stderr, starting ``error:``, containing ``message``, and exit code ``code``. ``was`` says how
the input behaved before it was caught (``hang``, ``silent`` for a wrong result without a
word, ``late`` for a Ray traceback after the cluster started, ``ok`` for a case that already
failed cleanly): the list only grows.
"""

from __future__ import annotations

import json
import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

SMOKE = ["--profile", "smoke"]


@dataclass(frozen=True)
class Case:
    name: str
    argv: Callable[[Path], list[str]]  # tmp folder -> the command line (after `python -m`)
    message: str  # a fragment of the one error line
    code: int = 2
    was: str = "ok"  # hang | silent | late | ok


# -- what the cases build ---------------------------------------------------------------------


def storage(tmp: Path) -> list[str]:
    return ["--storage", str(tmp / "exps")]


def launch(space: str, tmp: Path, *extra: str) -> list[str]:
    return ["launch", "--space", space, *SMOKE, *storage(tmp), *extra]


def parquet_dir(tmp: Path, config: str, splits: dict[str, pd.DataFrame]) -> str:
    """A --data-dir in the Hugging Face Parquet layout holding ``splits`` of one task."""
    folder = tmp / "glue" / config
    folder.mkdir(parents=True, exist_ok=True)
    for split, frame in splits.items():
        frame.to_parquet(folder / f"{split}.parquet")
    return str(tmp / "glue")


def sst2(labels: list, rows: int | None = None) -> pd.DataFrame:
    rows = len(labels) if rows is None else rows
    return pd.DataFrame({"sentence": [f"a film {i}" for i in range(rows)],
                         "label": labels[:rows], "idx": list(range(rows))})


def stsb(labels: list) -> pd.DataFrame:
    return pd.DataFrame({"sentence1": [f"a man {i}" for i in range(len(labels))],
                         "sentence2": [f"a dog {i}" for i in range(len(labels))],
                         "label": labels, "idx": list(range(len(labels)))})


GOOD_SST2 = [0, 1, 0, 1]
GOOD_STSB = [0.0, 2.5, 5.0, 3.2]


def with_data(space: str, config: str, train: pd.DataFrame, validation: pd.DataFrame,
              *extra: str) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        data = parquet_dir(tmp, config, {"train": train, "validation": validation})
        return launch(space, tmp, "--data-dir", data, "--set", "synthetic_data=false", *extra)
    return build


def model_folder(tmp: Path, config: object | None, weights: bool = True,
                 raw_config: str | None = None) -> str:
    folder = tmp / "model"
    folder.mkdir()
    if raw_config is not None:
        (folder / "config.json").write_text(raw_config)
    elif config is not None:
        (folder / "config.json").write_text(json.dumps(config))
    if weights:
        (folder / "model.safetensors").write_bytes(b"")  # presence is what is checked
    return str(folder)


BERT_CONFIG = {"model_type": "bert", "hidden_size": 32, "num_hidden_layers": 2,
               "num_attention_heads": 2, "intermediate_size": 64, "vocab_size": 100}


class _Payload:
    """Unpickling this calls a function: what a malicious checkpoint does."""

    def __reduce__(self):  # noqa: D105
        return (os.getcwd, ())  # harmless here; weights_only must refuse it before calling


def pickled_checkpoint(path: Path) -> Path:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"weight": torch.zeros(2), "extra": _Payload()}, path)
    return path


def refused_teacher(tmp: Path) -> list[str]:
    folder = tmp / "teacher"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(BERT_CONFIG))
    pickled_checkpoint(folder / "pytorch_model.bin")
    return launch("cap_soft_sst2", tmp, "--set", f"teacher_path={folder}")


def refused_pruner(tmp: Path) -> list[str]:
    path = pickled_checkpoint(tmp / "pruner" / "base.bin")
    return launch("smp_sst2", tmp, "--set", f"pruner_path={path}")


def symlinked_experiment(tmp: Path) -> list[str]:
    outside = tmp / "outside"
    outside.mkdir()
    (tmp / "exps").mkdir()
    (tmp / "exps" / "linked").symlink_to(outside)
    return launch("dense_sst2", tmp, "--name", "linked")


def split_is_a_directory(tmp: Path) -> list[str]:
    data = parquet_dir(tmp, "sst2", {"validation": sst2(GOOD_SST2)})
    (Path(data) / "sst2" / "train.parquet").mkdir()
    return launch("dense_sst2", tmp, "--data-dir", data, "--set", "synthetic_data=false")


def corrupt_parquet(tmp: Path) -> list[str]:
    data = parquet_dir(tmp, "sst2", {"validation": sst2(GOOD_SST2)})
    (Path(data) / "sst2" / "train.parquet").write_bytes(b"PAR1 this is not parquet PAR1")
    return launch("dense_sst2", tmp, "--data-dir", data, "--set", "synthetic_data=false")


def fake_experiment(tmp: Path, name: str = "old") -> Path:
    """An experiment folder as a sweep leaves it (experiment.json, Tune's state files)."""
    folder = tmp / "exps" / name
    (folder / "results").mkdir(parents=True)
    (folder / "experiment.json").write_text(json.dumps(
        {"name": name, "space": "calibrate", "profile": "paper", "trainable": "calibrate"}))
    (folder / "tuner.pkl").write_bytes(pickle.dumps({"state": 1}))
    (folder / "experiment_state-2026-01-01_00-00-00.json").write_text(json.dumps({"a": 1}))
    (folder / "searcher-state-2026-01-01_00-00-00.pkl").write_bytes(pickle.dumps([1, 2]))
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    folder.chmod(0o755)
    return folder


def resume_of(change: Callable[[Path], None]) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        change(fake_experiment(tmp))
        return ["resume", "old", *storage(tmp)]
    return build


def existing_experiment(tmp: Path) -> list[str]:
    fake_experiment(tmp, "taken")
    return launch("dense_sst2", tmp, "--name", "taken")


def truncate_state(folder: Path) -> None:
    state = next(folder.glob("experiment_state-*.json"))
    state.write_text('{"trial_data": ["unterminated')


def group_writable(folder: Path) -> None:
    (folder / "tuner.pkl").chmod(0o664)


def foreign_owner(folder: Path) -> None:
    os.chown(folder / "searcher-state-2026-01-01_00-00-00.pkl", 4242, 4242)


def data_dir_without_validation(tmp: Path) -> list[str]:
    data = parquet_dir(tmp, "sst2", {"train": sst2(GOOD_SST2)})
    return launch("dense_sst2", tmp, "--data-dir", data, "--set", "synthetic_data=false")


def not_writable_storage(tmp: Path) -> list[str]:
    blocked = tmp / "file"
    blocked.write_text("a file, not a folder")
    return ["launch", "--space", "dense_sst2", *SMOKE, "--storage", str(blocked / "sub")]


def unanswered_address(tmp: Path) -> list[str]:
    from tests.reliability.helpers import free_port

    return ["launch", "--space", "calibrate", *storage(tmp), "--address",
            f"127.0.0.1:{free_port()}"]


def damaged_info(text: str) -> Callable[[Path], None]:
    def change(folder: Path) -> None:
        (folder / "experiment.json").write_text(text)
    return change


def status_of(change: Callable[[Path], None]) -> Callable[[Path], list[str]]:
    def build(tmp: Path) -> list[str]:
        change(fake_experiment(tmp))
        return ["status", "old", *storage(tmp)]
    return build


def cut_journal(folder: Path) -> None:
    """A journal whose last record was cut mid-write (a killed driver, a full disk)."""
    from tests.reliability.helpers import fake_experiment_with_study

    fake_experiment_with_study(folder.parent, "tmp-study", trials=2)
    data = (folder.parent / "tmp-study" / "optuna.journal").read_bytes()
    (folder / "optuna.journal").write_bytes(data[:-30])
    (folder / "optuna.journal").chmod(0o644)


def replaced_trainer_state(folder: Path) -> None:
    """An unfinished trial whose latest trainer.pt holds pickled code."""
    pickled_checkpoint(folder / "calibrate_abc12345" / "checkpoint_000001" / "trainer.pt")
    cut = folder / "optuna.journal"
    if not cut.exists():
        from tests.reliability.helpers import fake_experiment_with_study

        fake_experiment_with_study(folder.parent, "tmp-study", trials=1)
        cut.write_bytes((folder.parent / "tmp-study" / "optuna.journal").read_bytes())
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def real_data_and_synthetic(tmp: Path) -> list[str]:
    data = parquet_dir(tmp, "sst2", {"train": sst2(GOOD_SST2), "validation": sst2(GOOD_SST2)})
    return launch("dense_sst2", tmp, "--data-dir", data, "--set", "synthetic_data=true")


def artifacts_dir_is_a_file(tmp: Path) -> list[str]:
    (tmp / "artifacts").write_text("a file")
    return launch("dense_sst2", tmp, "--artifacts-dir", str(tmp / "artifacts"))


BIG = str(2**70)

CASES: tuple[Case, ...] = (
    # -- hangs ---------------------------------------------------------------------------------
    Case("train split with 0 rows",
         with_data("dense_sst2", "sst2", sst2(GOOD_SST2, rows=0), sst2(GOOD_SST2)),
         "has 0 rows", was="hang"),
    Case("validation split with 0 rows",
         with_data("dense_sst2", "sst2", sst2(GOOD_SST2), sst2(GOOD_SST2, rows=0)),
         "has 0 rows", was="hang"),
    Case("resume of a truncated experiment state", resume_of(truncate_state),
         "is damaged", was="hang"),
    # -- silent wrong results ------------------------------------------------------------------
    Case("STS-B validation labels all NaN",
         with_data("dense_stsb", "stsb", stsb(GOOD_STSB), stsb([float("nan")] * 4)),
         "validation.parquet: the label in row 0 is missing (null or NaN)", was="silent"),
    Case("float class label 0.5",
         with_data("dense_sst2", "sst2", sst2([0.5, 1.0, 0.0, 1.0]), sst2(GOOD_SST2)),
         "train.parquet: label 0.5 in row 0 is not a whole class id", was="silent"),
    Case("--num-samples 0", lambda t: launch("dense_sst2", t, "--num-samples", "0"),
         "--num-samples must be >= 1, but got 0", was="silent"),
    Case("--concurrency 0", lambda t: launch("dense_sst2", t, "--concurrency", "0"),
         "--concurrency must be >= 1, but got 0", was="silent"),
    Case("name with a trailing newline",
         lambda t: launch("dense_sst2", t, "--name", "exp\n"),
         "cannot leave the storage root", was="silent"),
    Case("symlink inside the storage root leading outside", symlinked_experiment,
         "outside the storage root", was="silent"),
    # -- errors that came late or ugly ---------------------------------------------------------
    Case("learning_rate=inf", lambda t: launch("dense_sst2", t, "--set", "learning_rate=inf"),
         "`learning_rate` must be a finite number, but got 'inf'", was="late"),
    Case("learning_rate=nan", lambda t: launch("dense_sst2", t, "--set", "learning_rate=nan"),
         "`learning_rate` must be a finite number", was="late"),
    Case("max_steps=0 with num_train_epochs=inf",
         lambda t: launch("dense_sst2", t, "--set", "max_steps=0", "--set",
                          "num_train_epochs=inf"),
         "`num_train_epochs` must be a finite number", was="late"),
    Case("STS-B label inf",
         with_data("dense_stsb", "stsb", stsb([0.0, float("inf"), 1.0, 2.0]), stsb(GOOD_STSB)),
         "label inf in row 1 is not finite", was="late"),
    Case("STS-B label out of range",
         with_data("dense_stsb", "stsb", stsb([0.0, 7.5, 1.0, 2.0]), stsb(GOOD_STSB)),
         "label 7.5 in row 1 is outside 0..5", was="late"),
    Case("--model folder with a broken config.json",
         lambda t: launch("dense_sst2", t, "--model", model_folder(t, None, raw_config="{oops")),
         "config.json is not valid JSON", was="late"),
    Case("--model folder with an unknown model_type",
         lambda t: launch("dense_sst2", t, "--model",
                          model_folder(t, {**BERT_CONFIG, "model_type": "nonsense"})),
         "model_type 'nonsense' is not a model type transformers knows", was="late"),
    Case("--model folder without weights",
         lambda t: launch("dense_sst2", t, "--model", model_folder(t, BERT_CONFIG, False)),
         "no weights", was="late"),
    Case("split path that is a directory", split_is_a_directory,
         "train.parquet is a directory, not a data file", was="late"),
    Case("teacher_path that does not exist",
         lambda t: launch("cap_soft_sst2", t, "--set", f"teacher_path={t / 'nope'}"),
         "teacher_path", was="late"),
    Case("pruner_path that does not exist",
         lambda t: launch("smp_sst2", t, "--set", f"pruner_path={t / 'nope.bin'}"),
         "does not exist", was="late"),
    Case("teacher pickle that runs code", refused_teacher,
         "pytorch_model.bin holds objects other than tensors, which are refused", was="late"),
    Case("pruner pickle that runs code", refused_pruner,
         "base.bin holds objects other than tensors", was="late"),
    Case("corrupt data parquet", corrupt_parquet,
         "train.parquet is not a readable Parquet file", was="late"),
    Case("credentials in a storage URI",
         lambda t: ["launch", "--space", "dense_sst2", *SMOKE, "--storage",
                    "s3://AKIAKEY:VERYSECRET@bucket/exps?endpoint_override=127.0.0.1:9&scheme=http"
                    "&secret_key=VERYSECRET"],
         "***", was="late"),
    # -- waste ---------------------------------------------------------------------------------
    Case("pinned extra_examples above the training subset",
         lambda t: launch("cap_soft_sst2", t, "--set", "extra_examples=512"),
         "extra_examples=512 is larger than the training subset (32 rows)", was="silent"),
    Case("relative pruner_path",
         lambda t: launch("smp_sst2", t, "--set", "pruner_path=base.bin"),
         "must be an absolute path", was="late"),
    # -- trust boundary ------------------------------------------------------------------------
    Case("resume of state writable by the group", resume_of(group_writable),
         "resume refused", was="silent"),
    Case("resume of state owned by another user", resume_of(foreign_owner),
         "is owned by uid 4242", was="silent"),
    # -- cases that already failed cleanly -----------------------------------------------------
    Case("unknown space", lambda t: ["launch", "--space", "cap_sof_qqp", *storage(t)],
         "unknown space 'cap_sof_qqp'"),
    Case("unknown --set key", lambda t: launch("dense_sst2", t, "--set", "learning_rat=1e-5"),
         "did you mean 'learning_rate'"),
    Case("ill-typed --set value", lambda t: launch("dense_sst2", t, "--set", "max_steps=ten"),
         "`max_steps` must be int, but got 'ten'"),
    Case("--set without =", lambda t: launch("dense_sst2", t, "--set", "oops"),
         "--set expects key=value"),
    Case("negative learning rate", lambda t: launch("dense_sst2", t, "--set",
                                                   "learning_rate=-1"),
         "`learning_rate` must be > 0"),
    Case("unknown profile", lambda t: ["launch", "--space", "dense_sst2", "--profile", "huge",
                                       *storage(t)], "huge"),
    Case("--data-dir that does not exist",
         lambda t: launch("dense_sst2", t, "--data-dir", str(t / "nope")), "nope"),
    Case("--data-dir without the validation split", data_dir_without_validation,
         "no 'validation' split of task 'sst2'"),
    Case("--model not available offline",
         lambda t: launch("dense_sst2", t, "--model", "some-org/not-cached-bert"),
         "not-cached-bert"),
    Case("--model path that does not exist",
         lambda t: launch("dense_sst2", t, "--model", str(t / "no-model")), "does not exist"),
    Case("storage that is not writable", not_writable_storage, "is not writable"),
    Case("name ../escape", lambda t: launch("dense_sst2", t, "--name", "../escape"),
         "cannot leave the storage root"),
    Case("name a/b", lambda t: launch("dense_sst2", t, "--name", "a/b"),
         "cannot leave the storage root"),
    Case("name ..", lambda t: launch("dense_sst2", t, "--name", ".."),
         "cannot leave the storage root"),
    Case("name /abs", lambda t: launch("dense_sst2", t, "--name", "/abs"),
         "cannot leave the storage root"),
    Case("name _artifacts", lambda t: launch("dense_sst2", t, "--name", "_artifacts"),
         "cannot leave the storage root"),
    Case("launch of an existing name", existing_experiment, "already exists"),
    Case("unknown sampler", lambda t: launch("dense_sst2", t, "--sampler", "cmaes"),
         "--sampler 'cmaes' is not one of"),
    Case("--min-sparsity 1.5", lambda t: launch("dense_sst2", t, "--min-sparsity", "1.5"),
         "--min-sparsity must be in [0, 1)"),
    Case("random sampler with a constraint",
         lambda t: launch("dense_sst2", t, "--sampler", "random", "--min-sparsity", "0.5"),
         "random sampler ignores constraints"),
    Case("--time-budget 0", lambda t: launch("dense_sst2", t, "--time-budget", "0"),
         "--time-budget must be > 0"),
    Case("--max-failures -2", lambda t: launch("dense_sst2", t, "--max-failures", "-2"),
         "--max-failures must be >= -1"),
    Case("--warm-start from an unknown experiment",
         lambda t: launch("dense_sst2", t, "--warm-start", "ghost"), "ghost"),
    Case("resume of an unknown name", lambda t: ["resume", "nope", *storage(t)],
         "no experiment 'nope'"),
    Case("status of an unknown name", lambda t: ["status", "nope", *storage(t)], "nope"),
    Case("dashboard of an unknown name", lambda t: ["dashboard", "nope", *storage(t)],
         "no experiment 'nope'"),
    Case("--address where nobody answers", unanswered_address, "nobody answers"),
    Case("show-space of an unknown space", lambda t: ["show-space", "dense_sst9"],
         "unknown space 'dense_sst9'"),
    # -- round 2: accepted without a word ------------------------------------------------------
    Case("--time-budget nan", lambda t: launch("dense_sst2", t, "--time-budget", "nan"),
         "--time-budget must be a finite number, but got nan", was="silent"),
    Case("--set data_dir that does not exist",
         lambda t: launch("dense_sst2", t, "--set", f"data_dir={t / 'nonexistent'}"),
         "--set data_dir", was="silent"),
    Case("--data-dir with --set synthetic_data=true", real_data_and_synthetic,
         "with --set synthetic_data=true", was="silent"),
    Case("--set of the internal storage_root",
         lambda t: launch("dense_sst2", t, "--set", f"storage_root={t}"),
         "storage_root is set by the orchestrator, not by --set; use --artifacts-dir",
         was="silent"),
    Case("training sentences all empty",
         with_data("dense_sst2", "sst2",
                   pd.DataFrame({"sentence": ["", " ", "", ""], "label": GOOD_SST2}),
                   sst2(GOOD_SST2)),
         "train.parquet: every value of text column 'sentence' is empty", was="silent"),
    # -- round 2: hangs, tracebacks and late refusals ------------------------------------------
    Case("--gpus-per-trial nan", lambda t: launch("dense_sst2", t, "--gpus-per-trial", "nan"),
         "--gpus-per-trial must be a finite number", was="hang"),
    Case("--cpus-per-trial nan", lambda t: launch("dense_sst2", t, "--cpus-per-trial", "nan"),
         "--cpus-per-trial must be a finite number", was="late"),
    Case("--cpus-per-trial inf", lambda t: launch("dense_sst2", t, "--cpus-per-trial", "inf"),
         "--cpus-per-trial must be a finite number", was="late"),
    Case("--num-cpus -1", lambda t: launch("dense_sst2", t, "--num-cpus", "-1"),
         "--num-cpus must be >= 1, but got -1", was="late"),
    Case("--num-cpus 0", lambda t: launch("dense_sst2", t, "--num-cpus", "0"),
         "--num-cpus must be >= 1, but got 0", was="late"),
    Case("resume --num-cpus 0", lambda t: [*resume_of(lambda f: None)(t), "--num-cpus", "0"],
         "--num-cpus must be >= 1", was="late"),
    Case("--seed 2**70", lambda t: launch("dense_sst2", t, "--seed", BIG),
         f"--seed must be in [0, 2**32-1] (Optuna's and numpy's seed range), but got {BIG}",
         was="late"),
    Case("--seed -1", lambda t: launch("dense_sst2", t, "--seed", "-1"), "--seed must be in",
         was="late"),
    Case("dashboard --port 99999",
         lambda t: ["dashboard", "nope", *storage(t), "--port", "99999"],
         "--port must be in 1..65535, but got 99999", was="late"),
    Case("status of an experiment.json that is not JSON", status_of(damaged_info("{oops")),
         "experiment.json is damaged: not valid JSON", was="late"),
    Case("status of an experiment.json holding a list", status_of(damaged_info("[1, 2]")),
         "experiment.json is damaged: it must hold a JSON object, but holds a list",
         was="late"),
    Case("status of num_samples \"many\"",
         status_of(damaged_info(json.dumps({"name": "old", "space": "calibrate",
                                            "num_samples": "many"}))),
         "'num_samples' must be a whole number >= 0, but is 'many'", was="late"),
    Case("resume of an experiment.json that is not JSON", resume_of(damaged_info("{oops")),
         "experiment.json is damaged: not valid JSON", was="late"),
    Case("resume of an experiment.json holding a list", resume_of(damaged_info("[]")),
         "it must hold a JSON object", was="late"),
    Case("resume with a journal cut mid-record", resume_of(cut_journal),
         "optuna.journal is damaged: its last record", was="late"),
    Case("resume of a trial whose trainer.pt holds pickled code",
         resume_of(replaced_trainer_state),
         "trainer.pt holds objects other than tensors and plain values, which are refused",
         was="late"),
    Case("max_seq_length beyond the model's positions",
         lambda t: launch("dense_sst2", t, "--set", "max_seq_length=4096"),
         "max_seq_length=4096 is longer than model 'tiny' can read "
         "(max_position_embeddings=160)", was="late"),
    Case("a sentence column of integers",
         with_data("dense_sst2", "sst2",
                   pd.DataFrame({"sentence": [1, 2, 3, 4], "label": GOOD_SST2}),
                   sst2(GOOD_SST2)),
         "train.parquet: column 'sentence' holds int 1 in row 0", was="late"),
    Case("--artifacts-dir naming a file", artifacts_dir_is_a_file,
         "is a file, not a folder", was="late"),
)
