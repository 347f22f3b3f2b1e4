"""Speed shims for moto, applied only inside `make scale`'s processes. Each keeps moto's answers
as they are and removes a cost that real AWS does not have.

- DynamoDB Query on a global secondary index: moto sorts and walks every item of the table for
  each page (0.3 s a page at 10,000 items: the watchdog's 32 pages would take 10 s of its 90).
  Here the items whose index hash key differs are dropped first, in one cheap pass; moto then
  does what it always does with the rest.
- Step Functions SendTaskHeartbeat/Success/Failure: moto asks every execution in turn whether
  it holds the token (10,000 heartbeats over 10,000 executions: 50 million calls). Here the
  execution holding a token is looked up in an index, rebuilt when a token is not found, and
  asked exactly as moto asks each one (RUNNING executions only, but for SendTaskFailure).
- moto's service models and routers: cached, but not locked, so the watchdog's workers asking
  at once each load the DynamoDB model from disk (5 s of CPU). Here they are loaded once first.
"""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from moto.core.routing import get_service_router
from moto.dynamodb.models.table import Table
from moto.stepfunctions.parser.api import (
    ExecutionStatus,
    InvalidToken,
    SendTaskFailureOutput,
    TaskDoesNotExist,
    TaskTimedOut,
)
from moto.stepfunctions.parser.asl.eval.callback.callback import (
    CallbackConsumerTimeout,
    CallbackNotifyConsumerError,
    CallbackOutcomeFailure,
    CallbackOutcomeSuccess,
)
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

_index_filter = threading.local()
_token_lock = threading.Lock()
_executions_by_token: dict[str, Any] = {}


def _fast_query(query: Callable[..., Any]) -> Callable[..., Any]:
    def fast_query(self: Table, *args: Any, **kwargs: Any) -> Any:
        conditions = kwargs.get("hash_key_conditions") or []
        if not kwargs.get("index_name") or len(conditions) != 1:
            return query(self, *args, **kwargs)
        name, value = conditions[0]
        _index_filter.condition = (name, value.value)
        try:
            return query(self, *args, **kwargs)
        finally:
            _index_filter.condition = None

    return fast_query


def _filtered_items(all_items: Callable[[Table], list[Any]]) -> Callable[[Table], list[Any]]:
    def items(self: Table) -> list[Any]:
        condition = getattr(_index_filter, "condition", None)
        if condition is None or self.range_key_attr:
            return all_items(self)
        name, wanted = condition
        matching = [
            item
            for item in list[Any](self.items.values())
            if (found := item.attrs.get(name)) is not None and found.value == wanted
        ]
        return sorted(matching, key=lambda item: item.hash_key)

    return items


def _holder(backend: StepFunctionsParserBackend, token: str) -> Any:
    """The execution whose callback pool holds the token, or None."""
    with _token_lock:
        if token not in _executions_by_token:
            for state_machine in list(backend.state_machines):
                for execution in list(state_machine.executions):
                    worker = getattr(execution, "exec_worker", None)
                    if worker is None:
                        continue
                    for held in list(worker.env.callback_pool_manager._pool):
                        _executions_by_token[held] = execution
        return _executions_by_token.get(token)


def _notify(backend: Any, token: str, outcome: Any, *, running_only: bool) -> None:
    """moto's loop over executions, over the one that holds the token."""
    execution = _holder(backend, token)
    if execution is None or (running_only and execution.status != ExecutionStatus.RUNNING):
        raise InvalidToken()
    pool = execution.exec_worker.env.callback_pool_manager
    try:
        done = (
            pool.heartbeat(callback_id=token)
            if outcome is None
            else pool.notify(callback_id=token, outcome=outcome)
        )
    except CallbackNotifyConsumerError as consumer_error:
        if isinstance(consumer_error, CallbackConsumerTimeout):
            raise TaskTimedOut() from None
        raise TaskDoesNotExist() from None
    if not done:
        raise InvalidToken()


def send_task_heartbeat(self: StepFunctionsParserBackend, task_token: str) -> None:
    _notify(self, task_token, None, running_only=True)


def send_task_success(self: StepFunctionsParserBackend, task_token: str, outcome: str) -> None:
    success = CallbackOutcomeSuccess(callback_id=task_token, output=outcome)
    _notify(self, task_token, success, running_only=True)


def send_task_failure(
    self: StepFunctionsParserBackend,
    task_token: str,
    error: Any = None,
    cause: Any = None,
) -> Any:
    failure = CallbackOutcomeFailure(callback_id=task_token, error=error, cause=cause)
    _notify(self, task_token, failure, running_only=False)
    return SendTaskFailureOutput()


@contextmanager
def faster_moto() -> Iterator[None]:
    """The shims, while the block runs."""
    for service in ("dynamodb", "stepfunctions", "secretsmanager", "s3"):
        get_service_router(service)
    patched: list[tuple[Any, str, Any]] = [
        (Table, "query", _fast_query(Table.query)),
        (Table, "all_items", _filtered_items(Table.all_items)),
        (StepFunctionsParserBackend, "send_task_heartbeat", send_task_heartbeat),
        (StepFunctionsParserBackend, "send_task_success", send_task_success),
        (StepFunctionsParserBackend, "send_task_failure", send_task_failure),
    ]
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in patched]
    for owner, name, replacement in patched:
        setattr(owner, name, replacement)
    try:
        yield
    finally:
        for owner, name, original in originals:
            setattr(owner, name, original)
