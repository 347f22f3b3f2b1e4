"""Fail one of the handler's AWS calls, before it reaches (moto) AWS or after AWS acted on it."""

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError, ReadTimeoutError

SERVICE_IDS = {"dynamodb": "dynamodb", "stepfunctions": "sfn"}


def throttled(operation: str) -> ClientError:
    """What botocore raises once its retries are spent on throttling."""
    return ClientError(
        {
            "Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
            "ResponseMetadata": {"HTTPStatusCode": 400, "RetryAttempts": 0},
        },
        operation,
    )


def read_timeout(operation: str) -> ReadTimeoutError:
    return ReadTimeoutError(endpoint_url=f"https://aws.example/{operation}")


class AwsFaults:
    def __init__(self, handler: Any) -> None:
        self._clients = {"dynamodb": handler.dynamodb, "stepfunctions": handler.stepfunctions}
        self._registered: list[tuple[Any, str, Callable[..., None]]] = []

    def fail(
        self,
        client: str,
        operation: str,
        *,
        calls: set[int] | None = None,
        after_aws_acted: bool = False,
        error: Callable[[str], Exception] = throttled,
    ) -> None:
        """Fail the given 1-based calls of the operation (every call when None)."""
        seen = 0

        def inject(**_: Any) -> None:
            nonlocal seen
            seen += 1
            if calls is None or seen in calls:
                raise error(operation)

        stage = "after-call" if after_aws_acted else "before-call"
        event = f"{stage}.{SERVICE_IDS[client]}.{operation}"
        events = self._clients[client].meta.events
        events.register(event, inject)
        self._registered.append((events, event, inject))

    def clear(self) -> None:
        for events, event, inject in self._registered:
            events.unregister(event, inject)
        self._registered.clear()
