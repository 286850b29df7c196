"""``python -m analysis export``: one trial's model as a stock Hugging Face folder.

The folder holds ``config.json``, ``model.safetensors``, the tokenizer files and a short
``README.md`` model card (method, task, sparsity, score, hyper-parameters), so that
``AutoModelForSequenceClassification.from_pretrained(DIR)`` loads it anywhere.

Where the model comes from (files are copied and described; nothing here imports torch):

- the final row's ``checkpoint_path`` (schema v2), else the newest ``checkpoint_NNNNNN``
  folder of the trial's Ray Tune folder (``EXP/<trainable>_<trial_id>/``);
- in that checkpoint, the stock Hugging Face folder every method writes into its final
  checkpoint (:data:`facts.checkpoints.EXPORT_DIR`; dense: the model as trained, SMP: its
  removed heads back as zeros, CAP: its masks baked into a plain BERT). A checkpoint of an
  older version without that folder is refused with the command that makes one.

``--sparse`` hands the exported folder to the trainables' command line
(``python -m trainables.sparse convert``, in a subprocess: the analysis imports no sibling
package but the stdlib-only ``facts``) and writes its sparse form instead.

Example:
    $ python -m analysis export experiments/cap_soft_qqp --knee --out models/cap_knee
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from analysis import schema
from analysis.errors import AnalysisError
from facts.checkpoints import EXPORT_DIR

CARD = "README.md"
_CHECKPOINT = re.compile(r"^checkpoint_(\d+)$")

def select_trial(df: Any, trial: str | None = None, knee: bool = False,
                 target: float | None = None, include_collapsed: bool = False) -> Any:
    """The final ``completed`` row of the trial to export (a pandas Series).

    Args:
        df: the experiment's rows.
        trial: a trial id (a unique prefix is enough).
        knee: the knee of the front of the experiment's task (the default).
        target: the best-scoring completed trial with ``weight_sparsity >= target``.
        include_collapsed: let ``knee`` and ``target`` choose a collapsed trial (one named
            with ``trial`` is exported whatever its score; its model card says so).

    Raises:
        AnalysisError: no such trial, not completed, or no trial reaches the target.
    """
    from analysis.fronts import IS_TASK_KNEE
    from analysis.fronts import collapsed_mask
    from analysis.fronts import decisive_rows
    from analysis.fronts import pareto_fronts

    rows = decisive_rows(df)
    done = schema.completed_final_rows(rows)
    if trial is not None:
        ids = [str(t) for t in rows[schema.TRIAL_ID]]
        hits = [t for t in ids if t == trial] or [t for t in ids if t.startswith(trial)]
        if len(hits) != 1:
            import difflib

            close = difflib.get_close_matches(trial, ids, n=3)
            what = "matches several trials" if hits else "is not a trial of this experiment"
            hint = f"; did you mean {', '.join(close)}?" if close and not hits else ""
            raise AnalysisError(f"--trial {trial} {what}{hint}")
        chosen = done[done[schema.TRIAL_ID].astype(str) == hits[0]]
        if chosen.empty:
            state = rows[rows[schema.TRIAL_ID].astype(str) == hits[0]][schema.STATUS].iloc[0]
            raise AnalysisError(f"trial {hits[0]} did not complete (its status is {state}); "
                                "only a completed trial has a final model")
        return chosen.iloc[0]
    if done.empty:
        raise AnalysisError("the experiment has no completed trial to export")
    collapsed = collapsed_mask(done)
    if not include_collapsed:
        done = done[~collapsed]
        if done.empty:
            raise AnalysisError(
                f"every completed trial ({int(collapsed.sum())}) collapsed to the majority-"
                "class score: nothing worth exporting (--include-collapsed exports one anyway)")
    if target is not None:
        reach = done[done[schema.WEIGHT_SPARSITY] >= target - 1e-9].dropna(subset=[schema.SCORE])
        if reach.empty:
            best = done[schema.WEIGHT_SPARSITY].max()
            raise AnalysisError(f"no completed trial reaches --target {target:g} weight "
                                f"sparsity (the sparsest reached {best:.4g})")
        return reach.sort_values([schema.SCORE, schema.WEIGHT_SPARSITY],
                                 ascending=False).iloc[0]
    tasks = done[schema.TASK].dropna().unique()
    if len(tasks) > 1:
        raise AnalysisError(f"the experiment has several tasks ({', '.join(map(str, tasks))}); "
                            "choose one trial with --trial")
    fronts = pareto_fronts(df, include_collapsed=include_collapsed)
    knees = fronts.points[fronts.points[IS_TASK_KNEE]]
    if knees.empty:
        raise AnalysisError("no completed trial with finite objectives: no knee to export")
    return done[done[schema.TRIAL_ID] == knees[schema.TRIAL_ID].iloc[0]].iloc[0]


def _inside(path: Path, folder: Path) -> bool:
    """``path`` (symlinks followed) lies in ``folder`` (already resolved)."""
    return path.resolve().is_relative_to(folder)


def checkpoint_folder(experiment: Path, row: Mapping[str, Any]) -> Path:
    """The checkpoint folder of a final row: ``checkpoint_path``, else Ray's trial folder.

    Only a folder inside ``experiment`` (symlinks followed) is read: a row's
    ``checkpoint_path`` is data anyone who can write a result file controls, and pointing it
    at ``~/.ssh`` must not copy that folder into a model. A recorded path outside the
    experiment (also what a copied experiment records) gives way to the trial's own folder.

    Raises:
        AnalysisError: no checkpoint was found (saying where it was looked for), or only one
            outside the experiment.
    """
    experiment = experiment.resolve()
    recorded = row.get(schema.CHECKPOINT_PATH)
    outside = None
    if isinstance(recorded, str) and recorded:
        path = Path(recorded[len("file://"):] if recorded.startswith("file://") else recorded)
        if "://" in recorded and not recorded.startswith("file://"):
            raise AnalysisError(f"the checkpoint is at {recorded}; export copies local folders "
                                "only: copy it (or the experiment) to this machine first")
        if path.is_dir():
            if _inside(path, experiment):
                return path.resolve()
            outside = path.resolve()
    trial = str(row[schema.TRIAL_ID])
    folders = [p for p in experiment.iterdir()
               if p.is_dir() and (p.name == trial or p.name.endswith(f"_{trial}")
                                  or f"_{trial}_" in p.name)]
    checkpoints = sorted((int(m.group(1)), c) for f in folders for c in f.iterdir()
                         if c.is_dir() and (m := _CHECKPOINT.match(c.name))
                         and _inside(c, experiment))
    if not checkpoints:
        if outside is not None:
            raise AnalysisError(f"refusing to export trial {trial}: its checkpoint_path "
                                f"{outside} is outside the experiment {experiment}, and export "
                                "reads only from inside it; copy the checkpoint into the "
                                "experiment's trial folder first")
        where = f"{recorded} (recorded) nor " if recorded else ""
        raise AnalysisError(f"no checkpoint of trial {trial}: neither {where}a checkpoint_* "
                            f"folder in {experiment}/*_{trial}/ exists")
    return checkpoints[-1][1].resolve()


#: The files of a Hugging Face model folder that export copies (``save_pretrained`` of a
#: model and its tokenizer); nothing else in a checkpoint (optimizer state, pickles, or
#: whatever else was put there) reaches the exported folder.
MODEL_FILE_PATTERNS = (
    "config.json", "generation_config.json", "model.safetensors", "model-*-of-*.safetensors",
    "model.safetensors.index.json", "tokenizer.json", "tokenizer_config.json",
    "special_tokens_map.json", "added_tokens.json", "vocab.txt", "vocab.json", "merges.txt",
    "spiece.model", "sentencepiece.bpe.model", "chat_template.jinja", "chat_template.json",
)


def is_model_file(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in MODEL_FILE_PATTERNS)


def _copy_model_files(source: Path, out: Path, checkpoint: Path) -> None:
    """Copy the allow-listed model files of ``source`` (each a regular file, not a symlink,
    inside ``checkpoint``) into ``out``."""
    for item in sorted(source.iterdir()):
        if not is_model_file(item.name):
            continue
        _check_own_file(item, checkpoint)
        shutil.copy2(item, out / item.name)


def _check_own_file(item: Path, checkpoint: Path) -> None:
    # any link on the way counts (the file, or pruned_model/ itself), hence resolve()
    if not _inside(item, checkpoint):
        raise AnalysisError(f"refusing to export {item}: it leads to {item.resolve()}, "
                            f"outside the checkpoint {checkpoint}")
    if not item.is_file():
        raise AnalysisError(f"refusing to export {item}: not a regular file")


def _score_with_noise(row: Mapping[str, Any], num: Any) -> str:
    """``0.8123 +- 0.0138`` (one standard error), or the bare score for rows before schema 3."""
    se = row.get(schema.SCORE_SE)
    score = num(row.get(schema.SCORE))
    return f"{score} +- {num(se)} (1 standard error)" if se is not None and se == se else score


def _evidence_lines(row: Mapping[str, Any], num: Any) -> list[str]:
    """What the score rests on: evaluated rows, the majority-class score on them, whether it
    collapsed, and that it is a single-seed search result (not confirmed over seeds)."""
    rows = row.get(schema.EVAL_EXAMPLES)
    if rows is None or rows != rows:
        return []
    lines = [f"| evaluated rows | {int(rows)} (one seed, not confirmed over seeds) |",
             f"| majority-class score on those rows | {num(row.get(schema.MAJORITY_SCORE))} |"]
    collapsed = row.get(schema.COLLAPSED)  # a numpy bool from a frame, None before schema 3
    if collapsed is not None and collapsed == collapsed and bool(collapsed):
        lines.append("| collapsed | **yes**: the score is within noise of always answering "
                     "the majority class |")
    return lines


def model_card(row: Mapping[str, Any], info: Mapping[str, Any], source: Path) -> str:
    """A short ``README.md``: what the model is, how it scores, how it was trained."""
    def num(value: Any, digits: str = ".4g") -> str:
        return "n/a" if value is None or value != value else format(float(value), digits)

    method, task = row.get(schema.METHOD), row.get(schema.TASK)
    params = {k[len(schema.PARAM_PREFIX):]: v for k, v in row.items()
              if str(k).startswith(schema.PARAM_PREFIX) and v is not None and v == v}
    metrics = [(c, row.get(c)) for c in (schema.ACCURACY, schema.F1, schema.MCC,
                                         schema.PEARSON, schema.SPEARMAN, schema.EVAL_LOSS)
               if row.get(c) is not None and row.get(c) == row.get(c)]
    lines = [
        "---", "library_name: transformers", "pipeline_tag: text-classification",
        f"tags: [pruned, {method}, {task}]", "---", "",
        f"# {method} on {task}: trial {row.get(schema.TRIAL_ID)}", "",
        f"A {method} model exported by prunesweep from experiment "
        f"`{row.get(schema.EXPERIMENT)}` (space `{row.get(schema.SPACE)}`, profile "
        f"`{row.get(schema.PROFILE)}`), base model `{row.get(schema.MODEL)}`.", "",
        "| | |", "|---|---|",
        f"| score ({task}'s GLUE metric) | {_score_with_noise(row, num)} |",
        *_evidence_lines(row, num),
        *(f"| {c} | {num(v)} |" for c, v in metrics),
        f"| weight sparsity (encoder) | {num(row.get(schema.WEIGHT_SPARSITY))} |",
        f"| head sparsity | {num(row.get(schema.HEAD_SPARSITY))} |",
        f"| parameters remaining / total (encoder) | {row.get(schema.PARAMS_REMAINING)} / "
        f"{row.get(schema.PARAMS_TOTAL)} |",
        f"| training steps | {row.get(schema.STEP)} |",
        f"| seed | {row.get(schema.SEED)} |",
    ]
    if row.get(schema.SPEEDUP) is not None and row.get(schema.SPEEDUP) == row.get(schema.SPEEDUP):
        lines.append(f"| speed-up over dense | {num(row.get(schema.SPEEDUP), '.3g')} |")
    lines += ["", "## Hyper-parameters", ""]
    lines += [f"- `{k}` = {v}" for k, v in sorted(params.items())] or ["(none searched)"]
    pinned = info.get("overrides") if isinstance(info.get("overrides"), Mapping) else {}
    pinned = {k: v for k, v in pinned.items() if k not in ("storage_root", "data_dir")}
    if pinned:
        lines += ["", "Pinned with `--set`: " + ", ".join(f"`{k}={v}`" for k, v in
                                                          sorted(pinned.items()))]
    lines += ["", "## Use", "", "```python",
              "from transformers import AutoModelForSequenceClassification, AutoTokenizer",
              'model = AutoModelForSequenceClassification.from_pretrained("THIS_FOLDER")',
              'tokenizer = AutoTokenizer.from_pretrained("THIS_FOLDER")', "```", "",
              "Pruned weights are stored as zeros in dense tensors (the same size as the "
              "dense model) unless the folder was written with `--sparse`.", "",
              f"Source checkpoint: `{source}`.", ""]
    return "\n".join(lines)


def build_folder(checkpoint: Path, row: Mapping[str, Any], out: Path) -> str:
    """Fill ``out`` (an empty folder) with the checkpoint's stock model files; return how.

    Raises:
        AnalysisError: the checkpoint has no stock folder (written before every method
            wrote one); the message says how to get one.
    """
    stock = checkpoint / EXPORT_DIR
    if (stock / "config.json").is_file():
        _copy_model_files(stock, out, checkpoint)
        return f"copied {stock}"
    if (checkpoint / "config.json").is_file():  # a checkpoint that is already stock
        _copy_model_files(checkpoint, out, checkpoint)
        return f"copied {checkpoint}"
    raise AnalysisError(
        f"{checkpoint} holds no {EXPORT_DIR}/ folder: it was written before every method "
        f"saved its exportable model into the final checkpoint (dense and SMP trials of "
        f"earlier versions). To get one, run the trial again with this version, its "
        f"hyper-parameters pinned: {rerun_command(row)} (a sweep still running: "
        f"`python -m orchestrator resume {row.get(schema.EXPERIMENT)}`; trials that finish "
        "after that carry the folder)")


def rerun_command(row: Mapping[str, Any]) -> str:
    """The ``launch`` command that runs ``row``'s trial again: its space, profile and seed,
    each searched hyper-parameter pinned with ``--set``."""
    params = sorted((str(k)[len(schema.PARAM_PREFIX):], v) for k, v in row.items()
                    if str(k).startswith(schema.PARAM_PREFIX) and v is not None and v == v)
    words = ["python", "-m", "orchestrator", "launch", "--space", str(row.get(schema.SPACE)),
             "--profile", str(row.get(schema.PROFILE)), "--num-samples", "1"]
    seed = row.get(schema.SEED)
    if schema.SEED not in dict(params) and seed is not None and seed == seed:
        params.append((schema.SEED, int(seed)))
    for name, value in params:
        words += ["--set", f"{name}={value}"]
    return "`" + shlex.join(words) + "`"


def check_weights(folder: Path, source: Path) -> None:
    """Every ``*.safetensors`` in ``folder`` has a readable header and exactly the bytes it
    describes: a checkpoint's ``model.safetensors`` cut short (a full disk, a killed copy)
    was exported with exit code 0 as a model that does not load. (The analysis imports no
    sibling package, so this mirrors ``trainables.array_files.safetensors_problem``.)"""
    import struct

    for path in sorted(folder.rglob("*.safetensors")):
        size = path.stat().st_size
        try:
            with path.open("rb") as fh:
                (length,) = struct.unpack("<Q", fh.read(8))
                if length > size - 8:
                    raise ValueError(f"the header needs {length} bytes")
                header = json.loads(fh.read(length))
            ends = [entry["data_offsets"][1] for name, entry in header.items()
                    if name != "__metadata__"]
        except (OSError, ValueError, struct.error, TypeError, KeyError, IndexError,
                AttributeError) as exc:
            raise AnalysisError(f"{path.name} from {source} is not a readable safetensors "
                                f"file ({exc}); nothing exported") from None
        expected = 8 + length + max(ends, default=0)
        if size != expected:
            raise AnalysisError(f"{path.name} from {source} is "
                                f"{'truncated' if size < expected else 'damaged'}: {size} "
                                f"bytes, its header describes {expected}; nothing exported")


def _child_env() -> dict[str, str]:
    # The child must import this project's packages (the checkout the analysis runs from).
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [env.get("PYTHONPATH")])])
    return env


def sparse_convert(model_dir: Path, out: Path) -> None:
    """Run ``python -m trainables.sparse convert MODEL_DIR --out OUT`` (issue 15's CLI)."""
    result = subprocess.run([sys.executable, "-m", "trainables.sparse", "convert",
                             str(model_dir), "--out", str(out)],
                            capture_output=True, text=True, env=_child_env())
    if result.returncode != 0:
        if "No module named trainables.sparse" in result.stderr:
            raise AnalysisError("--sparse needs `python -m trainables.sparse convert`, which "
                                "this installation lacks; export without --sparse")
        last = (result.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise AnalysisError(f"python -m trainables.sparse convert failed: {last}")


def export(experiment: str, out: str, *, trial: str | None = None, knee: bool = False,
           target: float | None = None, sparse: bool = False, df: Any = None,
           include_collapsed: bool = False) -> tuple[Any, str]:
    """Export one trial of a local experiment into the new folder ``out``.

    The folder is built next to ``out`` under a temporary name and renamed into place, so
    an interrupted export leaves no half-written model behind.

    Returns:
        (the trial's final row, how the folder was made).

    Raises:
        AnalysisError: bad input (see :func:`select_trial`, :func:`checkpoint_folder`), or
            ``out`` exists and is not empty.
    """
    from analysis.io import experiment_info
    from analysis.io import read_experiment

    if "://" in experiment:
        raise AnalysisError(f"export reads local experiment folders only, not {experiment}")
    target_dir = Path(out).expanduser().resolve()
    if target_dir.exists() and (not target_dir.is_dir() or any(target_dir.iterdir())):
        raise AnalysisError(f"--out {out} already exists and is not empty; give a new folder")
    df = read_experiment(experiment) if df is None else df
    row = select_trial(df, trial, knee, target, include_collapsed)
    checkpoint = checkpoint_folder(Path(experiment).expanduser().resolve(), row)
    target_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{target_dir.name}-", dir=target_dir.parent) as tmp:
        stock = Path(tmp) / "stock"
        stock.mkdir()
        how = build_folder(checkpoint, row, stock)
        check_weights(stock, checkpoint)  # before the folder is published
        (stock / CARD).write_text(model_card(row, experiment_info(experiment), checkpoint))
        final = stock
        if sparse:
            final = Path(tmp) / "sparse"
            sparse_convert(stock, final)
            if not (final / CARD).exists():
                shutil.copy2(stock / CARD, final / CARD)
            how += "; converted by trainables.sparse"
        if target_dir.exists():
            target_dir.rmdir()  # empty (checked above)
        os.replace(final, target_dir)
    return row, how
