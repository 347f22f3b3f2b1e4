"""Errors: why a webhook was not (or not yet) turned into a Step Functions callback, and the
typed failures of the submit function.

The error names a state machine can Catch, and where each one comes from:

| error name                     | sent by                 | decided in                          |
|--------------------------------|-------------------------|-------------------------------------|
| RunPod.FAILED / .CANCELLED / .TIMED_OUT | webhook, watchdog | task_outcome.decide_outcome       |
| RunPod.OutputTooLarge          | webhook, watchdog       | task_outcome.decide_outcome         |
| RunPod.InvalidOutput           | webhook, watchdog       | result_delivery.ResultDelivery._send |
| RunPod.JobLost                 | watchdog                | task_outcome.lost_job_outcome       |
| RunPod.InvalidRequest          | submit function         | InvalidRequest below                |
| RunPod.SubmitRejected          | submit function         | SubmitRejected below                |
| RunPod.SubmitFailed            | submit function         | SubmitFailed below                  |
"""

from http import HTTPStatus


class WebhookError(Exception):
    status_code: HTTPStatus = HTTPStatus.INTERNAL_SERVER_ERROR
    metric_name: str = "WebhookError"


class InvalidWebhook(WebhookError):
    """The request itself is wrong: malformed token or a body that is not a terminal job status."""

    status_code = HTTPStatus.BAD_REQUEST
    metric_name = "InvalidWebhook"


class UnknownCallback(WebhookError):
    status_code = HTTPStatus.NOT_FOUND
    metric_name = "UnknownCallback"


class JobIdMismatch(WebhookError):
    status_code = HTTPStatus.CONFLICT
    metric_name = "JobIdMismatch"


class DeliveryInFlight(WebhookError):
    """Another delivery for the same callback holds the record's lease; retrying gets the answer."""

    status_code = HTTPStatus.CONFLICT
    metric_name = "DeliveryInFlight"


class RecordNotPending(WebhookError):
    """The record is in a state this handler does not resume from (written by someone else)."""

    status_code = HTTPStatus.CONFLICT
    metric_name = "RecordNotPending"


class TaskExpired(WebhookError):
    """Step Functions no longer waits for the task token (timed out, stopped, or never existed)."""

    status_code = HTTPStatus.GONE
    metric_name = "TaskExpired"


class AwsUnavailable(WebhookError):
    """An AWS call failed after bounded retries; nothing is lost: RunPod retries the delivery."""

    status_code = HTTPStatus.SERVICE_UNAVAILABLE
    metric_name = "AwsUnavailable"


class CorruptRecord(WebhookError):
    """The record lacks what the handler needs (no task token): a bug in the record's writer.

    A 4xx like every problem that recurs on each retry: the record is left as it is.
    """

    status_code = HTTPStatus.CONFLICT
    metric_name = "CorruptRecord"


class SubmitError(Exception):
    """A submission the state machine can Catch: the Lambda error type is ``error_name``.

    Lambda reports ``type(error).__name__``, so each subclass takes its ``error_name`` as its
    class name: a traceback's ``RunPod.SubmitFailed`` is the class ``SubmitFailed`` in this file.
    """

    error_name: str
    metric_name: str

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        cls.__name__ = cls.__qualname__ = cls.error_name  # Lambda reports type(error).__name__

    def __str__(self) -> str:
        return f"{self.error_name}: {super().__str__()}"


class InvalidRequest(SubmitError):
    """The state machine's payload is wrong (missing task token, bad endpoint id, ...)."""

    error_name = "RunPod.InvalidRequest"
    metric_name = "InvalidRequest"


class SubmitRejected(SubmitError):
    """RunPod refused the job (4xx): retrying the same request will not help."""

    error_name = "RunPod.SubmitRejected"
    metric_name = "SubmitRejected"


class SubmitFailed(SubmitError):
    """RunPod or AWS failed (5xx, network, throttling) after bounded retries."""

    error_name = "RunPod.SubmitFailed"
    metric_name = "SubmitFailed"
