"""Every error of the package: the names a state machine can Catch (TaskError), why a webhook was
not (or not yet) turned into a Step Functions callback (WebhookError, an HTTP answer), the typed
failures of the submit function (SubmitError), and those of AWS and the table, RunPod's API, S3
and JSON text.

| error name                              | sent by           | decided in                        |
|-----------------------------------------|-------------------|-----------------------------------|
| RunPod.FAILED / .CANCELLED / .TIMED_OUT | webhook, watchdog | task_outcome.decide_outcome       |
| RunPod.OutputTooLarge                   | webhook, watchdog | task_outcome.decide_outcome;      |
|                                         |                   | watchdog_run (answer over 32 MiB) |
| RunPod.OutputNotStored                  | webhook, watchdog | task_outcome.decide_outcome       |
| RunPod.InvalidOutput                    | webhook, watchdog | result_delivery (Step Functions   |
|                                         |                   | refused it); watchdog_run         |
|                                         |                   | (RunPod's answer unreadable)      |
| RunPod.JobLost                          | watchdog          | watchdog_run                      |
| RunPod.InvalidRequest                   | submit function   | InvalidRequest below              |
| RunPod.SubmitRejected                   | submit function   | SubmitRejected below              |
| RunPod.SubmitThrottled                  | submit function   | SubmitThrottled below             |
| RunPod.SubmitFailed                     | submit function   | SubmitFailed below                |
"""

from enum import StrEnum
from http import HTTPStatus
from typing import Any

from runpod_callbacks.metric_names import Metric


class TaskError(StrEnum):
    """Every error a waiting task can fail with from this Terraform module."""

    FAILED = "RunPod.FAILED"
    CANCELLED = "RunPod.CANCELLED"
    TIMED_OUT = "RunPod.TIMED_OUT"
    OUTPUT_TOO_LARGE = "RunPod.OutputTooLarge"
    OUTPUT_NOT_STORED = "RunPod.OutputNotStored"
    INVALID_OUTPUT = "RunPod.InvalidOutput"
    JOB_LOST = "RunPod.JobLost"
    INVALID_REQUEST = "RunPod.InvalidRequest"
    SUBMIT_REJECTED = "RunPod.SubmitRejected"
    SUBMIT_THROTTLED = "RunPod.SubmitThrottled"
    SUBMIT_FAILED = "RunPod.SubmitFailed"


# Webhook answers


class WebhookError(Exception):
    """A webhook refused as it is: each subclass is its HTTP answer (a 4xx) and its metric."""

    status_code: HTTPStatus
    metric_name: Metric


class InvalidWebhook(WebhookError):
    """The request itself is wrong: malformed token or a body that is not a terminal job status."""

    status_code = HTTPStatus.BAD_REQUEST
    metric_name = Metric.INVALID_WEBHOOK


class UnknownCallback(WebhookError):
    status_code = HTTPStatus.NOT_FOUND
    metric_name = Metric.UNKNOWN_CALLBACK


class JobIdMismatch(WebhookError):
    status_code = HTTPStatus.CONFLICT
    metric_name = Metric.JOB_ID_MISMATCH


class DeliveryInFlight(WebhookError):
    """Another delivery for the same callback holds the record's lease; retrying gets the answer."""

    status_code = HTTPStatus.CONFLICT
    metric_name = Metric.DELIVERY_IN_FLIGHT


class RecordNotPending(WebhookError):
    """The record is in a state this handler does not resume from (written by someone else)."""

    status_code = HTTPStatus.CONFLICT
    metric_name = Metric.RECORD_NOT_PENDING


class TaskExpired(WebhookError):
    """Step Functions no longer waits for the task token (timed out, stopped, or never existed)."""

    status_code = HTTPStatus.GONE
    metric_name = Metric.TASK_EXPIRED


class CorruptRecord(WebhookError):
    """The record lacks what the handler needs (no task token): a bug in the record's writer.

    A 4xx like every problem that recurs on each retry: the record is left as it is.
    """

    status_code = HTTPStatus.CONFLICT
    metric_name = Metric.CORRUPT_RECORD


# Submit errors


class SubmitError(Exception):
    """A submission the state machine can Catch: the Lambda error type is ``error_name``.

    Lambda reports ``type(error).__name__``, so each subclass takes its ``error_name`` as its
    class name: a traceback's ``RunPod.SubmitFailed`` is the class ``SubmitFailed`` in this file.
    """

    error_name: TaskError
    metric_name: Metric

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        cls.__name__ = cls.__qualname__ = cls.error_name  # Lambda reports type(error).__name__

    def __str__(self) -> str:
        return f"{self.error_name}: {super().__str__()}"


class InvalidRequest(SubmitError):
    """The state machine's payload is wrong (missing task token, bad endpoint id, ...)."""

    error_name = TaskError.INVALID_REQUEST
    metric_name = Metric.INVALID_REQUEST


class SubmitRejected(SubmitError):
    """RunPod refused the job (4xx): retrying the same request will not help."""

    error_name = TaskError.SUBMIT_REJECTED
    metric_name = Metric.SUBMIT_REJECTED


class SubmitFailed(SubmitError):
    """RunPod or AWS failed (5xx, network, throttling) after bounded retries."""

    error_name = TaskError.SUBMIT_FAILED
    metric_name = Metric.SUBMIT_FAILED


class SubmitThrottled(SubmitError):
    """RunPod answered 429 (its per-endpoint /run limit): retry after a while, with jitter."""

    error_name = TaskError.SUBMIT_THROTTLED
    metric_name = Metric.SUBMIT_THROTTLED


# AWS and the table


class AwsUnavailable(Exception):
    """An AWS call failed after bounded retries (throttling, 5xx, timeouts): worth trying again.
    The webhook answers 503, and nothing is lost: RunPod retries the delivery."""


class ConditionFailed(Exception):
    """A conditional write was refused; ``record`` is the item as it was (ALL_OLD)."""

    def __init__(self, record: dict[str, Any]) -> None:
        super().__init__("conditional update refused")
        self.record = record


class RecordRefused(Exception):
    """DynamoDB refuses this write as it is (ValidationException): repeating it will not help."""


class ApiKeyUnavailable(Exception):
    """The RunPod API key cannot be read or used; the message never repeats it."""


# RunPod


class RunPodUnavailable(Exception):
    """No definite answer after the retries: network failures, 429 or 5xx."""


class RunPodMayHaveAccepted(Exception):
    """A /run that RunPod may have acted on though no answer says so (the answer lost or cut,
    a 5xx other than 503): sent again, it could start a second job."""


class RunPodRefused(Exception):
    """A definite answer other than the one asked for (a 4xx but 404 and 429)."""


class AnswerTooLarge(Exception):
    """RunPod's answer is longer than this client reads."""


# S3


class OutputNotStored(Exception):
    """S3 refuses the object for a reason no retry fixes; the message says what to check."""


# JSON


class NotAnObject(ValueError):
    """The document is JSON, or may be, but not an object."""
