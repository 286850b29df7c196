"""A sweep whose storage is an S3 URI (a local moto server): results, study and status."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from analysis import schema as S
from tests.orchestrator.helpers import REPO, cli_env, lost_and_duplicated

moto_server = pytest.importorskip("moto.server")


@pytest.fixture
def s3_storage(tmp_path, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_DEFAULT_REGION": "us-east-1", "PRUNESWEEP_CACHE": str(tmp_path / "cache")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    import pyarrow.fs as pafs

    fs = pafs.S3FileSystem(endpoint_override=f"127.0.0.1:{port}", scheme="http",
                           allow_bucket_creation=True, region="us-east-1")
    fs.create_dir("sweeps")
    yield f"s3://sweeps/exps?endpoint_override=127.0.0.1:{port}&scheme=http&region=us-east-1"
    server.stop()


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=REPO, env=cli_env(),
                          capture_output=True, text=True, timeout=timeout)


def test_sweep_on_an_s3_uri(s3_storage, tmp_path):
    run = _cli("orchestrator", "launch", "--space", "calibrate", "--num-samples", "3",
               "--storage", s3_storage, "--name", "on-s3", "--no-dashboard", "--num-cpus", "2",
               "--no-early-stop", "--set", "work_s=0.5", "--quiet")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    base, _, query = s3_storage.partition("?")
    uri = f"{base}/on-s3?{query}"

    from analysis.io import read_experiment

    df = read_experiment(uri)
    assert lost_and_duplicated(df, 3) == (0, 0)
    assert (df[df[S.IS_FINAL]][S.STATUS] == S.STATUS_COMPLETED).all()

    status = _cli("orchestrator", "status", "on-s3", "--storage", s3_storage)
    assert status.returncode == 0 and "3 completed" in status.stdout, status.stderr[-2000:]
    report = _cli("analysis", "pareto", uri, "--out", str(tmp_path / "report"), "--no-plot")
    assert report.returncode == 0, report.stderr[-2000:]
    assert (tmp_path / "report" / "pareto.csv").is_file()
