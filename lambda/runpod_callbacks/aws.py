"""AWS clients whose calls end well inside the record lease and the function timeout."""

import os
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

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


def client(service_name: str) -> Any:
    # Lambda always sets AWS_REGION; elsewhere (tests, local runs) fall back to us-east-1.
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    return boto3.client(service_name, region_name=region, config=BOUNDED_CALLS)  # type: ignore[call-overload]


def aws_error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", "Unknown"))


def was_retried(error: ClientError) -> bool:
    """True when botocore sent the request more than once, so an earlier try may have landed."""
    return int(error.response.get("ResponseMetadata", {}).get("RetryAttempts", 0)) > 0


def required_setting(name: str) -> str:
    """An environment variable the function cannot run without; its absence names it."""
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"environment variable {name} is required")
    return value
