"""An Optuna storage that reads through to another and refuses every write.

``dashboard`` serves optuna-dashboard without authentication; over the sweep's real journal
anyone who reaches the port could delete the study or rewrite trials (an unauthenticated
``DELETE /api/studies/0`` did). Over this wrapper the dashboard still shows the live study,
but each write raises :class:`ReadOnlyStorageError` (or what ``refusal`` builds: the dashboard
turns it into an HTTP 403 with the reason) and the journal is untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Container
from typing import Any

from optuna.storages import BaseStorage


class ReadOnlyStorageError(PermissionError):
    """A write was attempted through a read-only view of a study."""


def refusal_message(name: str) -> str:
    return (f"this dashboard is read-only ({name} refused); serve it with "
            "`python -m orchestrator dashboard NAME --allow-writes` to change the study")


def _refuse(name: str):
    def refuse(self: ReadOnlyStorage, *args: Any, **kwargs: Any) -> Any:
        raise self._refusal(refusal_message(name))
    refuse.__name__ = name
    return refuse


class ReadOnlyStorage(BaseStorage):
    """Every getter of ``inner``; every setter, creator and deleter refused.

    ``refusal`` builds the exception a refused write raises from its message: a web server
    passes one its framework answers with a status and the reason, where any other exception
    would be an opaque "internal server error".
    """

    def __init__(self, inner: BaseStorage,
                 refusal: Callable[[str], Exception] = ReadOnlyStorageError) -> None:
        self._inner = inner
        self._refusal = refusal

    create_new_study = _refuse("create_new_study")
    delete_study = _refuse("delete_study")
    set_study_user_attr = _refuse("set_study_user_attr")
    set_study_system_attr = _refuse("set_study_system_attr")
    create_new_trial = _refuse("create_new_trial")
    set_trial_param = _refuse("set_trial_param")
    set_trial_state_values = _refuse("set_trial_state_values")
    set_trial_intermediate_value = _refuse("set_trial_intermediate_value")
    set_trial_user_attr = _refuse("set_trial_user_attr")
    set_trial_system_attr = _refuse("set_trial_system_attr")

    def get_study_id_from_name(self, study_name: str) -> int:
        return self._inner.get_study_id_from_name(study_name)

    def get_study_name_from_id(self, study_id: int) -> str:
        return self._inner.get_study_name_from_id(study_id)

    def get_study_directions(self, study_id: int) -> list:
        return self._inner.get_study_directions(study_id)

    def get_study_user_attrs(self, study_id: int) -> dict[str, Any]:
        return self._inner.get_study_user_attrs(study_id)

    def get_study_system_attrs(self, study_id: int) -> dict[str, Any]:
        return self._inner.get_study_system_attrs(study_id)

    def get_all_studies(self) -> list:
        return self._inner.get_all_studies()

    def get_trial_id_from_study_id_trial_number(self, study_id: int, trial_number: int) -> int:
        return self._inner.get_trial_id_from_study_id_trial_number(study_id, trial_number)

    def get_trial_number_from_id(self, trial_id: int) -> int:
        return self._inner.get_trial_number_from_id(trial_id)

    def get_trial_param(self, trial_id: int, param_name: str) -> float:
        return self._inner.get_trial_param(trial_id, param_name)

    def get_trial(self, trial_id: int) -> Any:
        return self._inner.get_trial(trial_id)

    def get_all_trials(self, study_id: int, deepcopy: bool = True,
                       states: Container | None = None) -> list:
        return self._inner.get_all_trials(study_id, deepcopy=deepcopy, states=states)

    def get_n_trials(self, study_id: int, state: Any = None) -> int:
        return self._inner.get_n_trials(study_id, state)

    def get_best_trial(self, study_id: int) -> Any:
        return self._inner.get_best_trial(study_id)

    def get_trial_params(self, trial_id: int) -> dict[str, Any]:
        return self._inner.get_trial_params(trial_id)

    def get_trial_user_attrs(self, trial_id: int) -> dict[str, Any]:
        return self._inner.get_trial_user_attrs(trial_id)

    def get_trial_system_attrs(self, trial_id: int) -> dict[str, Any]:
        return self._inner.get_trial_system_attrs(trial_id)

    def remove_session(self) -> None:
        self._inner.remove_session()

    def check_trial_is_updatable(self, trial_id: int, trial_state: Any) -> None:
        raise self._refusal(refusal_message("updating a trial"))


__all__ = ["ReadOnlyStorage", "ReadOnlyStorageError"]
