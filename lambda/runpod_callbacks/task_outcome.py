"""What a finished job becomes: the waiting task's SendTask* payload and the record's result."""

import json
from dataclasses import dataclass
from typing import Any

from runpod_callbacks.callback_records import COMPLETED, FAILED
from runpod_callbacks.dynamodb_values import to_attribute
from runpod_callbacks.job_status import JobStatus

# Step Functions limits: task output 256 KiB serialized (UTF-8), failure cause 32,768 characters.
MAX_OUTPUT_BYTES = 256 * 1024
MAX_CAUSE_CHARACTERS = 32_768
OUTPUT_TOO_LARGE = "RunPod.OutputTooLarge"

RECORD_OUTPUT_LIMIT_BYTES = 64 * 1024
RECORD_ERROR_LIMIT_CHARACTERS = 4096


@dataclass(frozen=True)
class TaskOutcome:
    record_status: str
    output: str | None = None
    error: str | None = None
    cause: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.output is not None


@dataclass(frozen=True)
class TaskContext:
    """The record's fields that travel with the outcome."""

    callback_token: str
    exec_id: str | None
    segment_filename: str | None


def decide_outcome(job: JobStatus, context: TaskContext) -> TaskOutcome:
    if job.succeeded:
        output = to_json(
            {
                "callback_token": context.callback_token,
                "job_id": job.job_id,
                "status": job.status,
                "output": job.output,
                "exec_id": context.exec_id,
                "segment_filename": context.segment_filename,
                "delay_time_ms": job.delay_time_ms,
                "execution_time_ms": job.execution_time_ms,
            }
        )
        size = len(output.encode())
        if size <= MAX_OUTPUT_BYTES:
            return TaskOutcome(record_status=COMPLETED, output=output)
        message = f"output is {size} bytes serialized; Step Functions accepts {MAX_OUTPUT_BYTES}"
        return _failure(OUTPUT_TOO_LARGE, job, context, message)
    return _failure(f"RunPod.{job.status}", job, context, job.error)


def _failure(error: str, job: JobStatus, context: TaskContext, message: Any) -> TaskOutcome:
    cause = {
        "job_id": job.job_id,
        "status": job.status,
        "error": message,
        "exec_id": context.exec_id,
        "segment_filename": context.segment_filename,
    }
    return TaskOutcome(record_status=FAILED, error=error, cause=_fit_cause(cause))


def _fit_cause(cause: dict[str, Any]) -> str:
    """Shorten RunPod's error message (not the JSON) so the cause stays parseable."""
    text = to_json(cause)
    overflow = len(text) - MAX_CAUSE_CHARACTERS
    if overflow <= 0:
        return text
    message = cause["error"] if isinstance(cause["error"], str) else to_json(cause["error"])
    marker = "…[truncated]"
    while overflow > 0 and message != marker:
        keep = max(0, len(message) - overflow - len(marker))
        message = message[:keep] + marker
        text = to_json({**cause, "error": message})
        overflow = len(text) - MAX_CAUSE_CHARACTERS
    return text[:MAX_CAUSE_CHARACTERS]  # only cut here when the record's own fields are too long


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def record_result(job: JobStatus, outcome: TaskOutcome) -> dict[str, Any]:
    """The record's ``result`` map; RunPod's output only when it fits well inside 400 KB."""
    result: dict[str, Any] = {
        "job_id": job.job_id,
        "runpod_status": job.status,
        "delay_time_ms": job.delay_time_ms,
        "execution_time_ms": job.execution_time_ms,
    }
    if outcome.error is not None:
        result["step_functions_error"] = outcome.error
    if job.error is not None:
        message = job.error if isinstance(job.error, str) else to_json(job.error)
        result["error"] = message[:RECORD_ERROR_LIMIT_CHARACTERS]
    if job.output is None:
        return result
    output_bytes = len(to_json(job.output).encode())
    if output_bytes > RECORD_OUTPUT_LIMIT_BYTES:
        return {**result, "output_bytes": output_bytes, "output_omitted": "too large"}
    try:
        to_attribute({**result, "output": job.output})
    except ValueError as refusal:
        return {**result, "output_bytes": output_bytes, "output_omitted": str(refusal)}
    return {**result, "output": job.output}
