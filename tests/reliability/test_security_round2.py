"""Nothing followed outside the experiment: each example of the security issue, as a test.

- export reads only from inside the experiment and copies only a model's own files;
- no analysis writer writes through a symlink leading out of the experiment (or ``--out``);
- resume checks what a symlinked trial folder leads to before anything is unpickled;
- the ``csr_tiled`` library cache refuses folders and files others can write, and loads a
  library only if its sha256 is the one recorded at build time;
- credentials never appear in a message, URIs are refused where only folders work, empty
  paths are refused;
- a local cluster's services listen on loopback only.

Everything but the last test runs in well under a second each, without Ray.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from analysis import schema
from analysis.cli import main as analysis_main
from analysis.errors import redact
from orchestrator.cli import main
from orchestrator.errors import UsageError
from orchestrator.trust import check_resume_state
from tests.reliability.bad_inputs import fake_experiment

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "analysis"))
from analysis_fixtures import CAP_TRIALS, write_experiment  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SECRET = "VERYSECRET"


def _error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    assert SECRET not in stderr
    return lines[0]


# -- export ------------------------------------------------------------------------------------

def _exportable(tmp_path: Path, checkpoint_path: str | None) -> Path:
    """An experiment with one completed trial ``t1`` whose final row records
    ``checkpoint_path``."""
    exp = write_experiment(tmp_path, "exp", [{"trial_id": "t1", "score": 0.9,
                                              "weight_sparsity": 0.5}], method="dense")
    final = sorted((exp / "results").glob("t1-*.parquet"))[-1]
    row = pq.read_table(final).to_pylist()[0]
    row[schema.CHECKPOINT_PATH] = checkpoint_path
    pq.write_table(schema.rows_to_table([row]), final)
    return exp


def _stock_checkpoint(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "bert"}))
    import numpy as np
    from safetensors.numpy import save_file

    save_file({"w": np.zeros(2, dtype=np.float32)}, str(folder / "model.safetensors"))
    (folder / "vocab.txt").write_text("[PAD]\n")
    return folder


def test_export_refuses_a_checkpoint_path_outside_the_experiment(tmp_path, capsys):
    """Example 1: checkpoint_path rewritten to a folder holding a private key."""
    loot = _stock_checkpoint(tmp_path / "home" / ".ssh")
    (loot / "id_rsa").write_text("-----BEGIN PRIVATE KEY-----")
    exp = _exportable(tmp_path, str(loot))
    out = tmp_path / "model"
    assert analysis_main(["export", str(exp), "--trial", "t1", "--out", str(out)]) == 2
    line = _error_line(capsys.readouterr().err)
    assert "outside the experiment" in line and str(loot) in line
    assert not out.exists()


def test_export_copies_only_the_model_files(tmp_path, capsys):
    exp = _exportable(tmp_path, None)
    checkpoint = _stock_checkpoint(exp / "dense_x_t1" / "checkpoint_000001")
    (checkpoint / "id_rsa").write_text("-----BEGIN PRIVATE KEY-----")
    (checkpoint / "optimizer.pt").write_bytes(b"pickle")
    (checkpoint / "notes.sh").write_text("rm -rf ~")
    out = tmp_path / "model"
    assert analysis_main(["export", str(exp), "--trial", "t1", "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {"config.json", "model.safetensors",
                                               "vocab.txt", "README.md"}


def test_export_refuses_a_model_file_that_leads_outside(tmp_path, capsys):
    exp = _exportable(tmp_path, None)
    checkpoint = _stock_checkpoint(exp / "dense_x_t1" / "checkpoint_000001")
    secret = tmp_path / "secret.txt"
    secret.write_text(SECRET)
    (checkpoint / "vocab.txt").unlink()
    (checkpoint / "vocab.txt").symlink_to(secret)
    out = tmp_path / "model"
    assert analysis_main(["export", str(exp), "--trial", "t1", "--out", str(out)]) == 2
    assert "outside the checkpoint" in _error_line(capsys.readouterr().err)
    assert not out.exists()


def test_export_refuses_a_trial_folder_linked_outside(tmp_path, capsys):
    exp = _exportable(tmp_path, None)
    _stock_checkpoint(tmp_path / "elsewhere" / "checkpoint_000001")
    (exp / "dense_x_t1").symlink_to(tmp_path / "elsewhere")
    assert analysis_main(["export", str(exp), "--trial", "t1", "--out",
                          str(tmp_path / "model")]) == 2
    assert "no checkpoint of trial t1" in _error_line(capsys.readouterr().err)


# -- analysis writers --------------------------------------------------------------------------

def test_pareto_refuses_a_report_folder_linked_outside(tmp_path, capsys):
    """Example 2: EXP/report -> an outside folder."""
    exp = write_experiment(tmp_path, "exp", CAP_TRIALS)
    outside = tmp_path / "outside"
    outside.mkdir()
    (exp / "report").symlink_to(outside)
    assert analysis_main(["pareto", str(exp)]) == 2
    line = _error_line(capsys.readouterr().err)
    assert "is a symlink to" in line and "outside the experiment" in line
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("command", [["pareto"], ["table", "--targets", "0.5"]])
def test_report_writers_refuse_a_file_linked_outside(tmp_path, capsys, command):
    exp = write_experiment(tmp_path, "exp", CAP_TRIALS)
    victim = tmp_path / "bashrc"
    victim.write_text("keep me")
    (exp / "report").mkdir()
    for name in ("index.html", "targets.md", "front.csv"):
        (exp / "report" / name).symlink_to(victim)
    assert analysis_main([command[0], str(exp), *command[1:]]) == 2
    assert "is a symlink to" in _error_line(capsys.readouterr().err)
    assert victim.read_text() == "keep me"


def test_history_out_refuses_a_file_linked_outside_it(tmp_path, capsys):
    exp = write_experiment(tmp_path, "exp", CAP_TRIALS)
    victim = tmp_path / "victim.csv"
    victim.write_text("keep me")
    out = tmp_path / "out"
    out.mkdir()
    (out / "history.csv").symlink_to(victim)
    assert analysis_main(["history", str(exp), "--out", str(out)]) == 2
    assert "history.csv: it is a symlink" in _error_line(capsys.readouterr().err)
    assert victim.read_text() == "keep me"


def test_a_report_link_inside_the_experiment_still_works(tmp_path, capsys):
    exp = write_experiment(tmp_path, "exp", CAP_TRIALS)
    (exp / "reports-v2").mkdir()
    (exp / "report").symlink_to(exp / "reports-v2")
    assert analysis_main(["pareto", str(exp)]) == 0
    assert (exp / "reports-v2" / "index.html").is_file()


# -- resume: symlinked trial folders ----------------------------------------------------------

def _linked_trial(tmp_path: Path, mode: int) -> Path:
    folder = fake_experiment(tmp_path)
    target = tmp_path / "shared" / "trial"
    target.mkdir(parents=True)
    (target / "params.pkl").write_bytes(b"payload")
    (target / "params.pkl").chmod(0o644)
    target.chmod(mode)
    (folder / "calibrate_abc").symlink_to(target)
    return folder


def test_a_trial_folder_linked_to_a_world_writable_folder_is_refused(tmp_path):
    """Example 3: the link itself is the user's; what it leads to is not safe."""
    folder = _linked_trial(tmp_path, 0o777)
    with pytest.raises(UsageError, match=r"calibrate_abc is a symlink to .*shared/trial, and "
                                         r".* writable by its group or by others"):
        check_resume_state(str(folder), is_local=True, display="x", trust_storage=False)
    check_resume_state(str(folder), is_local=True, display="x", trust_storage=True)


def test_a_trial_folder_linked_into_a_folder_others_can_write_is_refused(tmp_path):
    folder = _linked_trial(tmp_path, 0o755)
    (tmp_path / "shared").chmod(0o777)  # not sticky: anyone can swap the trial folder
    with pytest.raises(UsageError, match=r"symlink into .*shared, which is writable"):
        check_resume_state(str(folder), is_local=True, display="x", trust_storage=False)
    (tmp_path / "shared").chmod(0o1777)  # sticky, as /tmp: only its owner may rename it
    check_resume_state(str(folder), is_local=True, display="x", trust_storage=False)


def test_pickles_behind_a_linked_trial_folder_are_checked(tmp_path):
    folder = _linked_trial(tmp_path, 0o755)
    check_resume_state(str(folder), is_local=True, display="x", trust_storage=False)
    (tmp_path / "shared" / "trial" / "params.pkl").chmod(0o666)
    with pytest.raises(UsageError, match="calibrate_abc/params.pkl is writable"):
        check_resume_state(str(folder), is_local=True, display="x", trust_storage=False)


def test_resume_cli_refuses_a_linked_world_writable_trial_before_ray(tmp_path, capsys):
    _linked_trial(tmp_path, 0o777)
    assert main(["resume", "old", "--storage", str(tmp_path / "exps")]) == 2
    assert "resume refused" in _error_line(capsys.readouterr().err)


# -- the csr_tiled library cache --------------------------------------------------------------

native = pytest.importorskip("trainables.sparse.native")
needs_compiler = pytest.mark.skipif(native._compiler() is None, reason="no C compiler")

PLANTED = r"""
#include <stdio.h>
#include <stdlib.h>
__attribute__((constructor)) static void planted(void) {
    FILE *f = fopen(getenv("PLANTED_MARKER"), "w"); if (f) { fputs("ran", f); fclose(f); }
}
int prunesweep_spmm_tiled(void) { return 0; }
int prunesweep_spmm_tile_rows(void) { return 16; }
int prunesweep_spmm_threaded(void) { return 0; }
"""


def _plant(tmp_path: Path, library: Path) -> None:
    source = tmp_path / "planted.c"
    source.write_text(PLANTED)
    subprocess.run([native._compiler(), "-shared", "-fPIC", str(source), "-o", str(library)],
                   check=True, capture_output=True)


@pytest.fixture
def fresh_native(monkeypatch, tmp_path):
    monkeypatch.setattr(native, "_state", {})
    monkeypatch.setenv("PLANTED_MARKER", str(tmp_path / "marker"))
    monkeypatch.delenv(native.DISABLE_ENV, raising=False)
    return tmp_path / "marker"


@needs_compiler
def test_a_library_planted_in_a_world_writable_cache_is_not_loaded(fresh_native, tmp_path,
                                                                     monkeypatch):
    """Example 4: $PRUNESWEEP_NATIVE_DIR writable by everyone, a library with the name."""
    cache = tmp_path / "cache"
    cache.mkdir()
    monkeypatch.setenv(native.DIR_ENV, str(cache))
    for flags in ((*native.FLAGS, "-fopenmp"), native.FLAGS):  # the names it would load
        name = native._build(native._compiler(), flags).name
        for leftover in cache.iterdir():
            leftover.unlink()
        _plant(tmp_path, cache / name)
    cache.chmod(0o777)
    with pytest.warns(UserWarning, match="writable by its group or by others"):
        reason = native.unavailable()
    assert reason is not None and "refusing to load" in reason
    assert not fresh_native.exists()  # the planted constructor never ran


@needs_compiler
def test_a_library_that_is_not_the_one_built_is_not_loaded(fresh_native, tmp_path,
                                                             monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv(native.DIR_ENV, str(cache))
    built = [native._build(native._compiler(), flags)
             for flags in ((*native.FLAGS, "-fopenmp"), native.FLAGS)]
    for library in built:  # replaced after its digest was recorded
        library.unlink()
        _plant(tmp_path, library)
        library.chmod(0o600)
    with pytest.warns(UserWarning, match="does not match the sha256 recorded"):
        assert "refusing to load" in native.unavailable()
    assert not fresh_native.exists()


@needs_compiler
def test_a_private_cache_builds_records_and_loads(fresh_native, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv(native.DIR_ENV, str(cache))
    assert native.unavailable() is None
    digests = sorted(cache.glob("*.so.sha256"))
    assert digests and all(p.stat().st_mode & 0o022 == 0 for p in cache.iterdir())
    assert cache.stat().st_mode & 0o077 == 0


@needs_compiler
def test_a_library_without_a_recorded_digest_is_rebuilt_not_trusted(fresh_native, tmp_path,
                                                                      monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv(native.DIR_ENV, str(cache))
    library = native._build(native._compiler())
    native._digest_path(library).unlink()  # as an older version left it
    library.unlink()
    _plant(tmp_path, library)
    assert native._build(native._compiler()) == library
    assert native._digest_path(library).is_file()
    native._load_verified(library)  # the rebuilt one, not the planted one
    assert not fresh_native.exists()


# -- credentials, URIs, empty paths ------------------------------------------------------------

URI = f"s3://AKIAKEY:{SECRET}@bucket/x?endpoint_override=127.0.0.1:9&secret_key={SECRET}"
SMOKE = ["--profile", "smoke", "--num-samples", "1", "--no-dashboard"]


def _launch(tmp: Path, *extra: str) -> list[str]:
    return ["launch", "--space", "dense_sst2", *SMOKE, "--storage", str(tmp / "exps"), *extra]


@pytest.mark.parametrize("argv, message", [
    (lambda t: _launch(t, "--data-dir", URI), "--data-dir s3://***@bucket/x"),
    (lambda t: _launch(t, "--artifacts-dir", URI), "--artifacts-dir s3://***@bucket/x"),
    (lambda t: _launch(t, "--set", f"data_dir={URI}"), "--set data_dir s3://***@bucket/x"),
    (lambda t: ["launch", "--space", "dense_sst2", *SMOKE, "--storage", ""],
     "--storage '': the path is empty"),
    (lambda t: _launch(t, "--data-dir", ""), "--data-dir '': the path is empty"),
    (lambda t: _launch(t, "--artifacts-dir", " "), "--artifacts-dir ' ': the path is empty"),
    (lambda t: ["resume", "x", "--storage", ""], "--storage '': the path is empty"),
    (lambda t: ["status", "x", "--storage", ""], "--storage '': the path is empty"),
    (lambda t: ["artifacts", "list", "--storage", str(t), "--artifacts-dir", URI],
     "--artifacts-dir s3://***@bucket/x"),
], ids=["data-dir URI", "artifacts-dir URI", "set data_dir URI", "empty storage",
        "empty data-dir", "blank artifacts-dir", "resume empty storage",
        "status empty storage", "artifacts list URI"])
def test_paths_are_checked_before_anything_starts(tmp_path, monkeypatch, capsys, argv,
                                                  message):
    """Example 5: one redacted line, exit 2, nothing created (no ``./s3:/KEY:SECRET@...``)."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    args = argv(tmp_path)
    assert main(args) == 2
    line = _error_line(capsys.readouterr().err)
    assert message in line
    # nothing named after the URI, no experiment (an empty storage root may be made)
    assert [p for p in tmp_path.rglob("*") if "s3:" in str(p) or p.is_file()] == []


def test_redaction_covers_uris_turned_into_paths():
    # Path("s3://K:S@b").resolve() -> "/cwd/s3:/K:S@b": the form messages echo
    assert SECRET not in redact(f"/work/s3:/KEY:{SECRET}@bucket/x (no such directory)")
    assert SECRET not in redact(f"gs://{SECRET}@b/x?session_token={SECRET}")
    assert redact("/data/glue/sst2") == "/data/glue/sst2"


def test_analysis_messages_are_redacted(tmp_path, capsys):
    # an option pyarrow refuses: the error quotes the URI, and fails without a network
    uri = f"s3://KEY:{SECRET}@bucket/x?bogus_option=1&secret_key={SECRET}"
    assert analysis_main(["pareto", uri]) == 2
    _error_line(capsys.readouterr().err)


# -- the local cluster listens on loopback only -----------------------------------------------

LISTENERS = r"""
import json, os, socket, sys, time
sys.path.insert(0, sys.argv[1])
from orchestrator.cluster import connect
import ray

def descendants(root):
    kids = {}
    for d in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{d}/stat") as fh:
                kids.setdefault(int(fh.read().rsplit(")", 1)[1].split()[1]), []).append(int(d))
        except OSError:
            pass
    found, todo = set(), [root]
    while todo:
        p = todo.pop(); found.add(p); todo += kids.get(p, [])
    return found

def socket_inodes(pids):
    inodes = {}
    for p in pids:
        try:
            fds = os.listdir(f"/proc/{p}/fd")
            name = open(f"/proc/{p}/cmdline").read().replace("\0", " ")[:60]
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{p}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes[target[8:-1]] = name
    return inodes

def listening(inodes):
    found = []
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        for line in open(f"/proc/net/{table}").read().splitlines()[1:]:
            f = line.split()
            if f[3] != "0A" or f[9] not in inodes:  # 0A: LISTEN
                continue
            ip, port = f[1].split(":")
            raw = bytes.fromhex(ip)
            raw = (b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                   if family == socket.AF_INET6 else raw[::-1])
            found.append([socket.inet_ntop(family, raw), int(port, 16), inodes[f[9]]])
    return found

connect(num_cpus=1, include_dashboard=sys.argv[2] == "dashboard")
@ray.remote
def pid():
    return os.getpid()
ray.get([pid.remote() for _ in range(2)])  # workers listen too
time.sleep(5)  # the agents and the autoscaler's metrics port come up after init returns
print("LISTENERS " + json.dumps(listening(socket_inodes(descendants(os.getpid())))))
ray.shutdown()
"""

#: What Ray 2.60 still binds off loopback for a local cluster (documented in the README's
#: Security paragraph); empty: everything follows the node's loopback address.
ALLOWED_OFF_LOOPBACK: set[str] = set()


def _loopback(ip: str) -> bool:
    return ip.startswith("127.") or ip in ("::1", "::ffff:127.0.0.1")


@pytest.mark.timeout(240)
@pytest.mark.parametrize("dashboard", ["dashboard", "no-dashboard"])
def test_a_local_cluster_listens_on_loopback_only(tmp_path, dashboard):
    done = subprocess.run([sys.executable, "-c", LISTENERS, str(REPO), dashboard],
                          capture_output=True, text=True, timeout=200, cwd=tmp_path)
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("LISTENERS ")]
    assert done.returncode == 0 and lines, done.stderr[-2000:]
    listeners = json.loads(lines[0].removeprefix("LISTENERS "))
    assert len(listeners) >= 4  # GCS, raylet, agents, the driver's core worker at least
    exposed = [(ip, port, who) for ip, port, who in listeners
               if not _loopback(ip) and who.split()[0] not in ALLOWED_OFF_LOOPBACK]
    assert exposed == [], exposed
