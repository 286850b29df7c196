"""The searcher after a driver kill: Tune may rerun a trial the study already holds as ended."""

from __future__ import annotations

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from orchestrator.search import SweepSearch


def _define(trial) -> None:
    trial.suggest_float("x", 0.0, 1.0)


def _searcher(journal: str, metric, mode) -> SweepSearch:
    storage = JournalStorage(JournalFileBackend(journal))
    return SweepSearch(space=_define, metric=metric, mode=mode, storage=storage,
                       study_name="s", seed=0,
                       sampler=optuna.samplers.RandomSampler(seed=0))


def _study(journal: str) -> optuna.Study:
    return optuna.load_study(study_name="s",
                             storage=JournalStorage(JournalFileBackend(journal)))


def test_results_of_a_trial_the_study_already_ended_are_ignored(tmp_path):
    journal = str(tmp_path / "optuna.journal")
    searcher = _searcher(journal, "score", "max")
    searcher.suggest("a")
    searcher.suggest("b")
    # The killed driver told trial "a" COMPLETE after Tune's last snapshot: the restored
    # run reruns it, and its results reach a searcher whose study has it ended.
    other = _study(journal)
    ended = next(t for t in other.trials if t.user_attrs["tune_trial_id"] == "a")
    other.tell(ended.number, 0.5)

    searcher.on_trial_result("a", {"score": 0.6, "training_iteration": 2})
    searcher.on_trial_complete("a", {"score": 0.7, "training_iteration": 3, "is_final": True})
    searcher.on_trial_result("b", {"score": 0.3, "training_iteration": 1})
    searcher.on_trial_complete("b", {"score": 0.4, "training_iteration": 2, "is_final": True})

    trials = {t.user_attrs["tune_trial_id"]: t for t in _study(journal).trials}
    assert trials["a"].state == optuna.trial.TrialState.COMPLETE and trials["a"].value == 0.5
    assert trials["a"].intermediate_values == {}
    assert trials["b"].state == optuna.trial.TrialState.COMPLETE and trials["b"].value == 0.4
    assert trials["b"].intermediate_values == {1: 0.3}


def test_a_multi_objective_trial_the_study_already_pruned_stays_pruned(tmp_path):
    journal = str(tmp_path / "optuna.journal")
    searcher = _searcher(journal, ["score", "weight_sparsity"], ["max", "max"])
    searcher.suggest("a")
    other = _study(journal)
    other.tell(other.trials[0].number, state=optuna.trial.TrialState.PRUNED)

    searcher.on_trial_complete("a", {"score": 0.7, "weight_sparsity": 0.5, "is_final": True})

    assert _study(journal).trials[0].state == optuna.trial.TrialState.PRUNED
