"""The searcher after a driver kill: Tune may rerun a trial the study already holds as ended."""

from __future__ import annotations

import pickle

import optuna
import pytest
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend

from orchestrator.search import SAMPLERS, SweepSearch


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


def _sweep_searcher(journal: str, sampler_name: str) -> SweepSearch:
    from orchestrator.search import make_sampler

    storage = JournalStorage(JournalFileBackend(journal))
    return SweepSearch(space=_define, metric=["score", "weight_sparsity"], mode=["max", "max"],
                       storage=storage, study_name="s", seed=0,
                       sampler=make_sampler(sampler_name, 0, 2, constrained=False,
                                            population=2))


def _run_trials(searcher: SweepSearch, ids: list[str]) -> None:
    for trial_id in ids:
        config = searcher.suggest(trial_id)
        assert config is not None and 0.0 <= config["x"] <= 1.0
        searcher.on_trial_complete(trial_id, {"score": config["x"],
                                              "weight_sparsity": 1 - config["x"] ** 2,
                                              "is_final": True})


@pytest.mark.parametrize("sampler_name", SAMPLERS)
def test_every_sampler_survives_the_searcher_checkpoint_and_continues_its_study(
        tmp_path, sampler_name):
    # Ray pickles the searcher when the Tuner is built and at every searcher checkpoint
    # (searcher-state-*.pkl); Optuna 5.1's NSGA-II/III hold a lock that does not pickle.
    journal = str(tmp_path / "optuna.journal")
    searcher = _sweep_searcher(journal, sampler_name)
    _run_trials(searcher, ["a", "b", "c", "d", "e"])  # population 2: generations 0, 1, 2
    pickle.loads(pickle.dumps(searcher))  # as tune.Tuner(...) does
    searcher.save(str(tmp_path / "searcher-state.pkl"))

    restored = _sweep_searcher(journal, sampler_name)
    restored.restore(str(tmp_path / "searcher-state.pkl"))
    _run_trials(restored, ["f", "g", "h"])
    trials = _study(journal).trials
    assert [t.user_attrs["tune_trial_id"] for t in trials] == list("abcdefgh")
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    if sampler_name.startswith("nsga"):
        # The genetic sampler goes on from the study's generations, not from scratch (our
        # picklable classes keep Optuna's names, so the study's generation key is Optuna's).
        key = f"{type(restored._sampler).__name__}:generation"
        generations = [t.system_attrs[key] for t in trials]
        assert generations == sorted(generations) and generations[-1] >= 2, generations


def test_a_restored_genetic_sampler_has_a_fresh_lock_and_rebuilds_its_cache(tmp_path):
    import threading

    from orchestrator.search import make_sampler

    sampler = make_sampler("nsga2", 0, 2, constrained=False)
    sampler._cached_study_id = 7
    with sampler._thread_lock:  # held while pickled: the copy must not inherit it
        copy = pickle.loads(pickle.dumps(sampler))
    assert isinstance(copy._thread_lock, type(threading.Lock()))
    assert copy._thread_lock.acquire(blocking=False)
    assert copy._cached_study_id is None
