"""AWS clients whose calls end well inside the record lease and the function timeout, and the
words for what a failed call means."""

import os
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

CONNECT_TIMEOUT_S = 1
READ_TIMEOUT_S = 2
MAX_ATTEMPTS = 2
RETRY_BACKOFF_MAX_S = 1
WORST_CALL_MS = 1000 * (MAX_ATTEMPTS * (CONNECT_TIMEOUT_S + READ_TIMEOUT_S) + RETRY_BACKOFF_MAX_S)
# One connection for each of the watchdog's workers (watchdog_run.MAX_WORKERS), each making one
# call at a time; botocore keeps 10 by default, and opens new TLS connections past the pool.
MAX_POOL_CONNECTIONS = 480

# Codes AWS answers the same way to every retry of the same request: fixing the request, not
# waiting, is what helps. Access and configuration errors are left out: an operator fixes those,
# and the caller should answer so that the work is retried once they have.
DETERMINISTIC_REFUSALS = frozenset(
    {"ValidationException", "InvalidOutput", "SerializationException"}
)


def client(service_name: str, *, tries: int = MAX_ATTEMPTS) -> Any:
    """A client whose every call makes at most ``tries`` bounded HTTP tries (botocore's).

    The functions' Step Functions clients take ``tries=1``: step_functions.resume_task tries
    itself, so that it knows each try's fate.
    """
    # Lambda always sets AWS_REGION; elsewhere (tests, local runs) fall back to us-east-1.
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    config = Config(
        connect_timeout=CONNECT_TIMEOUT_S,
        read_timeout=READ_TIMEOUT_S,
        retries={"mode": "standard", "total_max_attempts": tries},
        max_pool_connections=MAX_POOL_CONNECTIONS,
    )
    return boto3.client(service_name, region_name=region, config=config)  # type: ignore[call-overload]


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
