"""How a task of this provider fails: an error the provider raised has already said what went wrong and what to
do, so its task logs it as one line and raises it without the provider's inner frames (a user reading the task
log sees the sentence, not a 28-frame traceback). Any other exception, a bug's, keeps its whole traceback."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from airflow_provider_comagic.exceptions import ParameterError, ProviderError

__all__ = ["explained_failures", "naming_task"]

F = TypeVar("F", bound=Callable[..., Any])


def explained_failures(method: F) -> F:
    """Decorate a task's ``execute`` (or ``execute_complete``): a :class:`ProviderError` is logged in one line and
    raised again with its traceback cut at the task's own method."""

    @functools.wraps(method)
    def run(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except ProviderError as error:
            if not getattr(error, "_told", False):  # an execute_complete that starts over calls execute
                self.log.error("%s: %s", type(error).__name__, error)
                error._told = True  # type: ignore[attr-defined]
            raise error.with_traceback(None) from None

    return run  # type: ignore[return-value]


@contextlib.contextmanager
def naming_task(task_id: str) -> Iterator[None]:
    """Checks of a task's arguments at DAG parse time: a bad argument's error names the task, so the DAG's import
    error in Airflow's UI says which task to fix."""
    try:
        yield
    except ParameterError as error:
        raise type(error)(f"Task {task_id!r}: {error}") from None
