"""RunPod's job-status object (a webhook body or a /status answer) and the callback token."""

import base64
import binascii
import re
from decimal import Decimal
from enum import StrEnum
from typing import Any, NamedTuple

from runpod_callbacks.errors import InvalidWebhook, NotAnObject
from runpod_callbacks.json_text import Member, parse_object


class RunPodStatus(StrEnum):
    """A RunPod job's ``status`` (the callback record's own statuses differ)."""

    IN_QUEUE = "IN_QUEUE"
    IN_PROGRESS = "IN_PROGRESS"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMED_OUT = "TIMED_OUT"


ENDED_STATUSES = frozenset(
    {RunPodStatus.COMPLETED, RunPodStatus.FAILED, RunPodStatus.CANCELLED, RunPodStatus.TIMED_OUT}
)
RUNNING_STATUSES = frozenset(
    {RunPodStatus.IN_QUEUE, RunPodStatus.IN_PROGRESS, RunPodStatus.RUNNING}
)
NOT_FOUND = "NOT_FOUND"
"""What stands for RunPod's status when /status answers 404: it no longer knows the job."""

CALLBACK_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9._~-]{1,128}")
MAX_JOB_ID_LENGTH = 256

Milliseconds = int | Decimal


class JobStatus(NamedTuple):
    job_id: str
    status: str
    output: Any
    """RunPod's output, parsed (numbers exact: non-integers as Decimal); None when absent."""
    output_json: str
    """RunPod's output exactly as written ("null" when absent): what the task receives."""
    error_message: str | None
    """RunPod's error: the string itself, or the JSON text of any other value."""
    delay_time_ms: Milliseconds | None
    execution_time_ms: Milliseconds | None

    @property
    def ended(self) -> bool:
        """RunPod is done with the job: COMPLETED, FAILED, CANCELLED or TIMED_OUT."""
        return self.status in ENDED_STATUSES

    @property
    def succeeded(self) -> bool:
        return self.status == RunPodStatus.COMPLETED


def lost_job(job_id: str) -> JobStatus:
    """A job RunPod no longer knows: its ttl ran out, or its result expired unfetched."""
    return JobStatus(job_id, NOT_FOUND, None, "null", None, None, None)


def parse_callback_token(token: str) -> str:
    if not CALLBACK_TOKEN_PATTERN.fullmatch(token):
        raise InvalidWebhook("callback token is malformed")
    return token


def body_text(body: str | None, *, base64_encoded: bool) -> str:
    """The request body as text; API Gateway base64-encodes bodies it does not take for text."""
    try:
        raw = (
            base64.b64decode(body or "", validate=True)
            if base64_encoded
            else (body or "").encode("utf-8")
        )
    except binascii.Error as error:
        raise InvalidWebhook("body is marked base64-encoded but is not base64") from error
    except UnicodeEncodeError as error:  # lone surrogates: the bytes were not UTF-8
        raise InvalidWebhook("body is not valid UTF-8") from error
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidWebhook("body is not valid UTF-8") from error


def parse_ended_job(body: str) -> JobStatus:
    """A webhook body: RunPod calls back only for jobs that ended."""
    job = parse_job_status(body)
    if not job.ended:
        raise InvalidWebhook(f"status must be one of {', '.join(sorted(ENDED_STATUSES))}")
    return job


def parse_job_status(text: str, *, job_id: str | None = None) -> JobStatus:
    """A job-status object; with ``job_id`` (the job asked about), its ``id`` is not needed:
    the job asked about is the job reported on."""
    try:
        members = parse_object(text)
    except NotAnObject as error:
        raise InvalidWebhook("body must be a JSON object") from error
    except ValueError as error:
        raise InvalidWebhook("body is not valid JSON") from error
    except RecursionError as error:
        raise InvalidWebhook("body is nested too deeply") from error
    status = members["status"].value if "status" in members else None
    if not isinstance(status, str) or not status:
        raise InvalidWebhook(f"status must be one of {', '.join(sorted(ENDED_STATUSES))}")
    if job_id is None:
        job_id = members["id"].value if "id" in members else None
        if not isinstance(job_id, str) or not _is_job_id(job_id):
            raise InvalidWebhook(f"id must be 1 to {MAX_JOB_ID_LENGTH} printable characters")
    output = members.get("output")
    return JobStatus(
        job_id=job_id,
        status=status,
        output=output.value if output else None,
        output_json=output.text if output else "null",
        error_message=_error_message(members.get("error")),
        delay_time_ms=_milliseconds(members.get("delayTime")),
        execution_time_ms=_milliseconds(members.get("executionTime")),
    )


def _is_job_id(value: str) -> bool:
    return 0 < len(value) <= MAX_JOB_ID_LENGTH and value.isprintable()


def _error_message(member: Member | None) -> str | None:
    if member is None or member.value is None:
        return None
    return member.value if isinstance(member.value, str) else member.text


def _milliseconds(member: Member | None) -> Milliseconds | None:
    """RunPod's timings are informative: a missing or non-numeric one is recorded as null."""
    value = member.value if member else None
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    return value
