"""A function's AWS clients answered in-process, and its output sent elsewhere.

Imports nothing but the standard library at the top: the memory bench imports a function "the way
Lambda does" in a fresh interpreter, and nothing else may be loaded before it.
"""

import contextlib
import io
import json
import sys
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any, TextIO


def function_clients(function: ModuleType) -> list[Any]:
    """Every botocore client the function module holds, at its top level or inside one of its
    top-level objects (the submit function's API key cache holds its Secrets Manager client)."""
    from botocore.client import BaseClient

    found: dict[int, Any] = {}
    for value in vars(function).values():
        inner = vars(value).values() if hasattr(value, "__dict__") else ()
        for candidate in (value, *inner):
            if isinstance(candidate, BaseClient):
                found[id(candidate)] = candidate
    return list(found.values())


def answer_instantly(responses: dict[str, dict[str, Any]]) -> Callable[..., Any]:
    """A before-send hook: every request is answered at once from ``responses`` (by operation),
    never leaving the process."""
    from botocore.awsrequest import AWSResponse

    class _Raw:
        def __init__(self, body: bytes) -> None:
            self._body = body

        def stream(self, **_: Any) -> Any:
            yield self._body

    def answer(request: Any, **_: Any) -> Any:
        operation = request.headers["X-Amz-Target"].decode().split(".")[-1]
        body = json.dumps(responses.get(operation, {})).encode()
        response = AWSResponse(request.url, 200, {"x-amzn-RequestId": "bench"}, _Raw(body))
        response._content = body
        return response

    return answer


@contextlib.contextmanager
def answered_in_process(
    function: ModuleType, responses: dict[str, dict[str, Any]]
) -> Iterator[None]:
    """While the block runs, every AWS request of the function is answered from ``responses``."""
    hook = answer_instantly(responses)
    clients = function_clients(function)
    for client in clients:
        client.meta.events.register_first("before-send", hook)
    try:
        yield
    finally:
        for client in clients:
            client.meta.events.unregister("before-send", hook)


@contextlib.contextmanager
def output_to(function: ModuleType, stream: TextIO | io.TextIOBase) -> Iterator[None]:
    """The function's log lines and EMF metric lines (printed to stdout) go to ``stream``."""
    previous_stream = function.logger.registered_handler.setStream(stream)
    real_stdout, sys.stdout = sys.stdout, stream
    try:
        yield
    finally:
        sys.stdout = real_stdout
        function.logger.registered_handler.setStream(previous_stream)
