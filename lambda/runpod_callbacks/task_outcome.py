"""What an ended job becomes: the waiting task's SendTask* payload and the record's result."""

from collections.abc import Callable
from typing import Any, NamedTuple

from runpod_callbacks.dynamodb_values import dynamodb_number, to_attribute
from runpod_callbacks.errors import OutputNotStored, TaskError
from runpod_callbacks.job_status import JobStatus, Milliseconds
from runpod_callbacks.json_text import (
    carried_text,
    number_json,
    object_json,
    to_json,
    utf8_length,
    utf16_length,
)
from runpod_callbacks.large_outputs import LargeOutputStore
from runpod_callbacks.record_table import RecordStatus

# Step Functions limits: task output 256 KiB serialized (UTF-8); failure cause 32,768 characters,
# counted here as UTF-16 code units (the conservative reading: an emoji counts twice).
MAX_OUTPUT_BYTES = 256 * 1024
MAX_CAUSE_LENGTH = 32_768
TRUNCATED = "…[truncated]"

RECORD_OUTPUT_LIMIT_BYTES = 64 * 1024
RECORD_ERROR_LIMIT_CHARACTERS = 4096


class TaskOutcome(NamedTuple):
    record_status: str
    output: str | None = None
    error: str | None = None
    cause: str | None = None
    message: str | None = None
    """Why the task failed, in full (the cause keeps what fits of it)."""
    output_s3: dict[str, Any] | None = None
    """Where RunPod's output went when it did not fit the task output (large_outputs)."""

    @property
    def succeeded(self) -> bool:
        return self.record_status == RecordStatus.COMPLETED


class TaskContext(NamedTuple):
    """The record's fields that travel with the outcome."""

    callback_token: str
    exec_id: str | None
    segment_filename: str | None


Decide = Callable[[JobStatus, TaskContext], TaskOutcome]
"""What a job's report becomes for the task (decide_outcome, or a JobLost failure)."""


def decide_outcome(
    job: JobStatus, context: TaskContext, large_outputs: LargeOutputStore | None = None
) -> TaskOutcome:
    """The task's outcome; with ``large_outputs``, an output too large goes to S3 (may raise
    AwsUnavailable: call it only once the record is claimed), and one S3 refuses for good fails
    the task with RunPod.OutputNotStored."""
    if not job.succeeded:
        return failed_task(TaskError(f"RunPod.{job.status}"), job, context, job.error_message)
    # Measured before it is built: a copy of megabytes of output only to throw it away is not.
    size = utf8_length(task_output(job, context, "output", "0")) - 1 + utf8_length(job.output_json)
    if size <= MAX_OUTPUT_BYTES:
        output = task_output(job, context, "output", job.output_json)
        return TaskOutcome(record_status=RecordStatus.COMPLETED, output=output)
    if large_outputs is not None:
        try:
            pointer = large_outputs.put(job.output_json, job.job_id, context.exec_id)
        except OutputNotStored as refused:
            return failed_task(TaskError.OUTPUT_NOT_STORED, job, context, str(refused))
        output = task_output(job, context, "output_s3", to_json(pointer))
        return TaskOutcome(record_status=RecordStatus.COMPLETED, output=output, output_s3=pointer)
    message = f"output is {size} bytes serialized; Step Functions accepts {MAX_OUTPUT_BYTES}"
    return failed_task(TaskError.OUTPUT_TOO_LARGE, job, context, message)


def task_output(job: JobStatus, context: TaskContext, name: str, value_json: str) -> str:
    """The task's output object; RunPod's ``output`` in it exactly as RunPod wrote it (or, under
    ``output_s3``, where it is)."""
    return object_json(
        {
            "callback_token": to_json(context.callback_token),
            "job_id": to_json(job.job_id),
            "status": to_json(job.status),
            name: value_json,
            "exec_id": to_json(context.exec_id),
            "segment_filename": to_json(context.segment_filename),
            "delay_time_ms": number_json(job.delay_time_ms),
            "execution_time_ms": number_json(job.execution_time_ms),
        }
    )


def job_ended_outcome(error: TaskError, message: str, **details: str | None) -> Decide:
    """A typed failure for a job whose result cannot come: RunPod no longer knows it
    (RunPod.JobLost), its answer cannot be read or is too large; the cause says why, and
    ``details`` where (endpoint, submission time)."""

    def decide(job: JobStatus, context: TaskContext) -> TaskOutcome:
        return failed_task(error, job, context, message, **details)

    return decide


def failed_task(
    error: TaskError,
    job: JobStatus,
    context: TaskContext,
    message: str | None,
    **details: str | None,
) -> TaskOutcome:
    cause = {
        "job_id": job.job_id,
        "status": job.status,
        "error": message,
        "exec_id": context.exec_id,
        "segment_filename": context.segment_filename,
        **details,
    }
    shorten = ("error", "segment_filename", "exec_id")
    return TaskOutcome(
        record_status=RecordStatus.FAILED,
        error=error,
        cause=fit_cause(cause, shorten),
        message=message,
    )


def fit_cause(cause: dict[str, str | None], shorten: tuple[str, ...]) -> str:
    """The cause as JSON within Step Functions' limit, keeping as much of each text as fits.

    The texts named in ``shorten`` are cut in that order, each only as far as needed; the
    others must be short (bounded by their parsers).
    """
    for name in shorten:
        if utf16_length(to_json(cause)) <= MAX_CAUSE_LENGTH:
            break
        text = cause[name]
        if text:
            cause[name] = _longest_fitting_prefix(cause, name, text) + TRUNCATED
    return to_json(cause)


def _longest_fitting_prefix(cause: dict[str, str | None], name: str, text: str) -> str:
    def fits(length: int) -> bool:
        shortened = {**cause, name: text[:length] + TRUNCATED}
        return utf16_length(to_json(shortened)) <= MAX_CAUSE_LENGTH

    low, high = 0, min(len(text), MAX_CAUSE_LENGTH)  # every character takes at least one unit
    while low < high:  # the longest prefix that fits, by bisection
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return text[:low]


def record_result(job: JobStatus, outcome: TaskOutcome) -> dict[str, Any]:
    """The record's ``result`` map; every value in a form DynamoDB stores (exactly, for numbers).

    RunPod's output is kept only when it fits well inside the 400 KB item and DynamoDB can hold
    every value in it; otherwise its size and the reason stand in for it.
    """
    result: dict[str, Any] = {
        "job_id": job.job_id,
        "runpod_status": job.status,
        "delay_time_ms": _storable_number(job.delay_time_ms),
        "execution_time_ms": _storable_number(job.execution_time_ms),
    }
    if outcome.error is not None:
        result["step_functions_error"] = outcome.error
    message = job.error_message or outcome.message  # RunPod's, else why the task failed
    if message is not None:
        result["error"] = carried_text(message[:RECORD_ERROR_LIMIT_CHARACTERS])
    if outcome.output_s3 is not None:
        return {**result, "output_s3": outcome.output_s3}
    if job.output is None:
        return result
    output_bytes = utf8_length(job.output_json)
    if output_bytes > RECORD_OUTPUT_LIMIT_BYTES:
        return {**result, "output_bytes": output_bytes, "output_omitted": "too large"}
    try:
        to_attribute({**result, "output": job.output})  # nested in the result, as stored
    except ValueError as refusal:
        return {**result, "output_bytes": output_bytes, "output_omitted": str(refusal)}
    return {**result, "output": job.output}


def _storable_number(value: Milliseconds | None) -> Milliseconds | str | None:
    """The number itself, or its text when DynamoDB cannot hold it (``1e200``)."""
    if value is None:
        return None
    try:
        dynamodb_number(value)
    except ValueError:
        return str(value)
    return value
