"""AWS clients whose calls end well inside the record lease and the function timeout.

They also tell, for a failed call, whether any of botocore's tries may have been processed by
AWS: throttling and other refusals are a definite "not processed"; a timeout or a connection lost
after sending, or a 5xx, may hide a request that AWS carried out.
"""

import os
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError
from botocore.exceptions import ConnectionError as NeverConnected

CONNECT_TIMEOUT_S = 1
READ_TIMEOUT_S = 2
MAX_ATTEMPTS = 2
RETRY_BACKOFF_MAX_S = 1
WORST_CALL_MS = 1000 * (MAX_ATTEMPTS * (CONNECT_TIMEOUT_S + READ_TIMEOUT_S) + RETRY_BACKOFF_MAX_S)

BOUNDED_CALLS = Config(
    connect_timeout=CONNECT_TIMEOUT_S,
    read_timeout=READ_TIMEOUT_S,
    retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
)
# Codes AWS answers the same way to every retry of the same request: fixing the request, not
# waiting, is what helps. Access and configuration errors are left out: an operator fixes those,
# and the caller should answer so that the work is retried once they have.
DETERMINISTIC_REFUSALS = frozenset(
    {"ValidationException", "InvalidOutput", "SerializationException"}
)

_REACHED_AWS = "ReachedAws"  # in the call's context and the response's metadata
_REACHED_AWS_ATTRIBUTE = "reached_aws"  # on exceptions raised below the response


def client(service_name: str) -> Any:
    # Lambda always sets AWS_REGION; elsewhere (tests, local runs) fall back to us-east-1.
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    aws_client = boto3.client(service_name, region_name=region, config=BOUNDED_CALLS)  # type: ignore[call-overload]
    events = aws_client.meta.events
    events.register("response-received", _note_try)
    events.register("after-call", _tell_response)
    events.register("after-call-error", _tell_exception)
    return aws_client


def reached_aws(error: Exception) -> bool:
    """Whether a failed call may have been carried out by AWS in one of its tries."""
    if isinstance(error, ClientError):
        metadata: dict[str, Any] = dict(error.response.get("ResponseMetadata", {}))
        if _REACHED_AWS in metadata:
            return bool(metadata[_REACHED_AWS])
        # A client made elsewhere: judge by the last answer and whether there were retries.
        retried = int(metadata.get("RetryAttempts", 0)) > 0
        return int(metadata.get("HTTPStatusCode", 500)) >= 500 or retried
    never_sent = isinstance(error, NeverConnected | ParamValidationError)
    return bool(getattr(error, _REACHED_AWS_ATTRIBUTE, not never_sent))


def aws_error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "Unknown"))


def failure_reason(error: ClientError | BotoCoreError) -> str:
    """AWS's error code, or the kind of failure when AWS gave none (a timeout, no connection)."""
    return aws_error_code(error) if isinstance(error, ClientError) else type(error).__name__


def is_deterministic_refusal(error: Exception) -> bool:
    return isinstance(error, ClientError) and aws_error_code(error) in DETERMINISTIC_REFUSALS


def required_setting(name: str) -> str:
    """An environment variable the function cannot run without; its absence names it."""
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"environment variable {name} is required")
    return value


def required_settings(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(required_setting(name) for name in names)


def _note_try(
    context: dict[str, Any], exception: Exception | None, response_dict: Any, **_: Any
) -> None:
    """Called after every HTTP try, below botocore's retries."""
    if exception is not None:
        reached = not isinstance(exception, NeverConnected)
    else:
        status = int((response_dict or {}).get("status_code", 500))
        reached = not 400 <= status < 500
    context[_REACHED_AWS] = context.get(_REACHED_AWS, False) or reached


def _tell_response(parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    parsed.setdefault("ResponseMetadata", {})[_REACHED_AWS] = context.get(_REACHED_AWS, True)


def _tell_exception(exception: Exception, context: dict[str, Any], **_: Any) -> None:
    if isinstance(exception, BotoCoreError):
        setattr(exception, _REACHED_AWS_ATTRIBUTE, context.get(_REACHED_AWS, True))
