"""What optuna-dashboard shows of a sweep's study (issue 29): objectives by name, and a refused
write answered 403 with its reason instead of 500 "internal server error"."""

from __future__ import annotations

import io
import json
from wsgiref.util import setup_testing_defaults

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from orchestrator.search import SweepSearch


def _define(trial) -> None:
    trial.suggest_float("x", 0.0, 1.0)


def _searcher(journal: str, metric, mode) -> SweepSearch:
    return SweepSearch(space=_define, metric=metric, mode=mode,
                       storage=JournalStorage(JournalFileBackend(journal)), study_name="s",
                       seed=0, sampler=optuna.samplers.RandomSampler(seed=0))


def _study(journal: str) -> optuna.Study:
    return optuna.load_study(study_name="s",
                             storage=JournalStorage(JournalFileBackend(journal)))


@pytest.mark.parametrize("metric,mode", [(["score", "weight_sparsity"], ["max", "max"]),
                                         ("score", "max")])
def test_the_study_names_its_objectives_after_the_metrics(tmp_path, metric, mode):
    journal = str(tmp_path / "optuna.journal")
    _searcher(journal, metric, mode).suggest("a")
    assert _study(journal).metric_names == ([metric] if isinstance(metric, str) else metric)


def test_a_resumed_study_names_its_objectives_once(tmp_path):
    journal = tmp_path / "optuna.journal"
    _searcher(str(journal), ["score", "weight_sparsity"], ["max", "max"])
    _searcher(str(journal), ["score", "weight_sparsity"], ["max", "max"])  # as resume does
    assert journal.read_text().count("metric_names") == 1


def _call(app, method: str, path: str) -> tuple[str, dict]:
    environ: dict = {"REQUEST_METHOD": method, "PATH_INFO": path, "wsgi.input": io.BytesIO()}
    setup_testing_defaults(environ)
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"] = status

    body = b"".join(app(environ, start_response))
    return answer["status"], json.loads(body or b"{}")


def test_the_read_only_dashboard_answers_a_write_with_403_and_its_reason(tmp_path, capsys):
    pytest.importorskip("optuna_dashboard")
    from optuna_dashboard._app import create_app

    from orchestrator.dashboard import forbidden
    from orchestrator.read_only_storage import ReadOnlyStorage

    journal = str(tmp_path / "optuna.journal")
    _searcher(journal, ["score", "weight_sparsity"], ["max", "max"]).suggest("a")
    app = create_app(ReadOnlyStorage(JournalStorage(JournalFileBackend(journal)),
                                     refusal=forbidden))
    status, body = _call(app, "GET", "/api/studies")
    assert status.startswith("200")
    status, body = _call(app, "DELETE", "/api/studies/0")
    assert status.startswith("403"), (status, body)
    assert body["reason"].startswith("this dashboard is read-only (delete_study refused)")
    assert "--allow-writes" in body["reason"]
    assert "refused a write: this dashboard is read-only" in capsys.readouterr().out
    assert [s.study_name for s in optuna.get_all_study_summaries(
        JournalStorage(JournalFileBackend(journal)))] == ["s"]  # nothing was deleted
