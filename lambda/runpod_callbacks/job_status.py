"""RunPod's webhook body (the job-status object) and the callback token from the URL."""

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from runpod_callbacks.errors import InvalidWebhook

COMPLETED = "COMPLETED"
TERMINAL_STATUSES = frozenset({COMPLETED, "FAILED", "CANCELLED", "TIMED_OUT"})

CALLBACK_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9._~-]{1,128}")
MAX_JOB_ID_LENGTH = 256


@dataclass(frozen=True)
class JobStatus:
    job_id: str
    status: str
    output: Any
    error: Any
    delay_time_ms: float | None
    execution_time_ms: float | None

    @property
    def succeeded(self) -> bool:
        return self.status == COMPLETED


def parse_callback_token(token: str) -> str:
    if not CALLBACK_TOKEN_PATTERN.fullmatch(token):
        raise InvalidWebhook("callback token is malformed")
    return token


def redact(callback_token: str) -> str:
    """A short prefix: enough to correlate log lines, never enough to call the webhook."""
    return callback_token[: min(4, len(callback_token) // 4)] + "…"


def parse_job_status(body: str | None) -> JobStatus:
    document = _parse_json(body)
    if not isinstance(document, dict):
        raise InvalidWebhook("body must be a JSON object")
    status = document.get("status")
    if not isinstance(status, str) or status not in TERMINAL_STATUSES:
        raise InvalidWebhook(f"status must be one of {', '.join(sorted(TERMINAL_STATUSES))}")
    job_id = document.get("id")
    if not isinstance(job_id, str) or not 0 < len(job_id) <= MAX_JOB_ID_LENGTH:
        raise InvalidWebhook(f"id must be a string of 1 to {MAX_JOB_ID_LENGTH} characters")
    return JobStatus(
        job_id=job_id,
        status=status,
        output=document.get("output"),
        error=document.get("error"),
        delay_time_ms=_milliseconds(document.get("delayTime")),
        execution_time_ms=_milliseconds(document.get("executionTime")),
    )


def _parse_json(body: str | None) -> Any:
    try:
        return json.loads(body or "", parse_float=_finite_float, parse_constant=_reject_constant)
    except ValueError as error:  # JSONDecodeError and the hooks' rejections
        raise InvalidWebhook("body is not valid JSON") from error
    except RecursionError as error:
        raise InvalidWebhook("body is nested too deeply") from error


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number out of range: {text[:20]}")
    return number


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _milliseconds(value: Any) -> float | None:
    """RunPod's timings are informative: a missing or non-numeric one is recorded as null."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value
