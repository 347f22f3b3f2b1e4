"""Faults of AWS calls where they really happen: on one HTTP try, below botocore's retries.

Each fault applies to given tries of an operation, counted across calls from 1. botocore sees a
real HTTP answer (or a broken connection) and retries it as it would in Lambda, so what the
handler learns (throttled on every try, processed but the answer lost, ...) is what AWS shows.
"""

import json
from collections.abc import Callable
from typing import Any

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.exceptions import ConnectionClosedError, ConnectTimeoutError, ReadTimeoutError
from moto.core.botocore_stubber import MockRawResponse
from moto.core.models import botocore_stubber

Fault = Callable[[AWSPreparedRequest], AWSResponse | None]
NOWHERE = "https://fault-injected.invalid/"


def refused(code: str, status: int = 400, message: str = "injected", *, xml: bool = False) -> Fault:
    """AWS answers with an error and does nothing (throttling, validation, 5xx before acting);
    ``xml``: as S3 answers (its REST-XML protocol), else as the JSON protocols do."""

    def answer(request: AWSPreparedRequest) -> AWSResponse:
        if xml:
            body = f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
            content_type = "application/xml"
        else:
            body = json.dumps({"__type": code, "message": message})
            content_type = "application/x-amz-json-1.0"
        headers = {"x-amzn-RequestId": "injected", "Content-Type": content_type}
        response = AWSResponse(request.url, status, headers, MockRawResponse(body))  # type: ignore[arg-type]
        # botocore still hands this try to every before-send handler, moto's included: point it
        # where moto serves nothing, so AWS (moto) never sees the request.
        request.url = NOWHERE
        return response

    return answer


THROTTLED = refused("ThrottlingException", message="Rate exceeded")


def when_request_holds(text: str, fault: Fault) -> Fault:
    """The fault for tries whose request body holds the text (e.g. one kind of UpdateItem);
    the others go through."""

    def answer(request: AWSPreparedRequest) -> AWSResponse | None:
        body = request.body if isinstance(request.body, bytes) else str(request.body).encode()
        return fault(request) if text.encode() in body else None

    return answer


def never_connected(request: AWSPreparedRequest) -> AWSResponse:
    raise ConnectTimeoutError(endpoint_url=request.url)


def processed_then(lost: type[Exception]) -> Fault:
    """AWS carries the request out, then the answer is lost (timeout or dropped connection)."""

    def answer(request: AWSPreparedRequest) -> AWSResponse:
        botocore_stubber("before-send", request)
        if lost is ConnectionClosedError:
            raise ConnectionClosedError(endpoint_url=request.url)
        raise ReadTimeoutError(endpoint_url=request.url)

    return answer


PROCESSED_THEN_TIMED_OUT = processed_then(ReadTimeoutError)
PROCESSED_THEN_CONNECTION_LOST = processed_then(ConnectionClosedError)


class AwsFaults:
    def __init__(self, *clients: Any) -> None:
        self._clients = clients
        self._registered: list[tuple[Any, str, Callable[..., Any]]] = []
        self._faults: dict[str, list[tuple[set[int] | None, Fault]]] = {}
        self.tries: dict[str, int] = {}
        """Every try of each operation seen so far, faulty or not."""

    def fail(self, operation: str, fault: Fault, *, tries: set[int] | None = None) -> None:
        """Apply the fault to the given 1-based tries of the operation (every try when None);
        several faults of one operation share its count of tries (the first that applies wins)."""
        if operation not in self._faults:
            self._faults[operation] = []
            self._listen(operation)
        self._faults[operation].append((tries, fault))

    def _listen(self, operation: str) -> None:
        client = next(c for c in self._clients if operation in c.meta.service_model.operation_names)
        service_id = client.meta.service_model.service_id.hyphenize()
        event = f"before-send.{service_id}.{operation}"

        def inject(request: AWSPreparedRequest, **_: Any) -> AWSResponse | None:
            self.tries[operation] = self.tries.get(operation, 0) + 1
            for tries, fault in self._faults.get(operation, []):
                if tries is None or self.tries[operation] in tries:
                    return fault(request)
            return None

        client.meta.events.register_first(event, inject)
        self._registered.append((client.meta.events, event, inject))

    def clear(self) -> None:
        for events, event, inject in self._registered:
            events.unregister(event, inject)
        self._registered.clear()
        self._faults.clear()
        self.tries.clear()
