"""Step Functions' callback calls: resume the waiting task (SendTaskSuccess / SendTaskFailure) or
heartbeat it, each answered by what came of it.

A resume is tried here, not by botocore, so that each try's fate is known: throttling and other
refusals are a definite "not processed"; a timeout or a connection lost after sending, or a 5xx,
may hide a try that Step Functions carried out (``maybe_delivered``).
"""

import random
import time
from collections.abc import Callable
from enum import Enum
from typing import Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError
from botocore.exceptions import ConnectionError as NeverConnected

from runpod_callbacks.aws import (
    MAX_ATTEMPTS,
    RETRY_BACKOFF_MAX_S,
    aws_error_code,
    is_deterministic_refusal,
)

# AWS answers TaskTimedOut for a token that was used or timed out; moto answers InvalidToken.
EXPIRED_CODES = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})


class Sent(Enum):
    DELIVERED = "delivered"
    """Step Functions took it: the task resumed."""
    REFUSED = "refused"
    """Refused as it is (InvalidOutput, ValidationException): a retry would be refused too."""
    EXPIRED = "expired"
    """The task no longer waits for this token (timed out, stopped, or resumed before)."""
    FAILED = "failed"
    """Throttled, 5xx, timeouts, no connection: worth trying again later."""


class SendAnswer(NamedTuple):
    sent: Sent
    maybe_delivered: bool
    """A try may have resumed the task though the answer says otherwise (an earlier try of the
    same call for EXPIRED; any try for FAILED)."""
    reason: str
    """AWS's error code, or the kind of failure ("" when taken)."""


class Heartbeat(Enum):
    WAITS = "waits"
    EXPIRED = "expired"
    UNKNOWN = "unknown"
    """Step Functions could not be asked (throttling, 5xx, network)."""


def resume_task(
    stepfunctions: Any,
    task_token: str,
    *,
    output: str | None = None,
    error: str | None = None,
    cause: str | None = None,
) -> SendAnswer:
    """SendTaskSuccess with ``output``, else SendTaskFailure with ``error`` and ``cause``; tried
    up to MAX_ATTEMPTS times while the failure is transient."""
    if output is not None:
        call: Callable[[], Any] = lambda: stepfunctions.send_task_success(  # noqa: E731
            taskToken=task_token, output=output
        )
    else:
        call = lambda: stepfunctions.send_task_failure(  # noqa: E731
            taskToken=task_token, error=error, cause=cause
        )
    maybe_delivered = False
    reason = ""
    for attempt in range(MAX_ATTEMPTS):
        if attempt:
            time.sleep(random.uniform(0, RETRY_BACKOFF_MAX_S))  # noqa: S311 - jitter, not secrets
        try:
            call()
            return SendAnswer(Sent.DELIVERED, maybe_delivered=False, reason="")
        except ClientError as refusal:
            reason = aws_error_code(refusal)
            if reason in EXPIRED_CODES:
                return SendAnswer(Sent.EXPIRED, maybe_delivered, reason)
            if is_deterministic_refusal(refusal):
                return SendAnswer(Sent.REFUSED, maybe_delivered, reason)
            status = int(refusal.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500))
            maybe_delivered = maybe_delivered or status >= 500
        except (NeverConnected, ParamValidationError) as failure:
            reason = type(failure).__name__  # the request never left this process
        except BotoCoreError as failure:  # a timeout or a connection lost: maybe carried out
            reason = type(failure).__name__
            maybe_delivered = True
    return SendAnswer(Sent.FAILED, maybe_delivered, reason)


def heartbeat(stepfunctions: Any, task_token: str) -> Heartbeat:
    """SendTaskHeartbeat: whether Step Functions still waits for the token."""
    try:
        stepfunctions.send_task_heartbeat(taskToken=task_token)
    except ClientError as error:
        if aws_error_code(error) in EXPIRED_CODES or is_deterministic_refusal(error):
            return Heartbeat.EXPIRED  # no task waits for this token, or none ever could
        return Heartbeat.UNKNOWN
    except BotoCoreError:
        return Heartbeat.UNKNOWN
    return Heartbeat.WAITS
