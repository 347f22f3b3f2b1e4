"""Resume the waiting task: one SendTaskSuccess or SendTaskFailure call, its failures classified."""

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from runpod_callbacks.aws import aws_error_code, is_deterministic_refusal, reached_aws
from runpod_callbacks.task_outcome import TaskOutcome

# AWS answers TaskTimedOut for a token that was used or timed out; moto answers InvalidToken.
TOKEN_GONE_CODES = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})


class TokenGone(Exception):
    """Step Functions no longer waits for this token."""

    def __init__(self, code: str, *, maybe_delivered: bool) -> None:
        super().__init__(code)
        self.maybe_delivered = maybe_delivered
        """An earlier try of this same call may have resumed the task (and used the token)."""


class SendRefused(Exception):
    """Step Functions refuses this request as it is (e.g. InvalidOutput): a retry would too."""


class SendFailed(Exception):
    """A transient failure (throttling, 5xx, timeout, connection) after bounded retries."""

    def __init__(self, reason: str, *, maybe_delivered: bool) -> None:
        super().__init__(reason)
        self.maybe_delivered = maybe_delivered


def task_waits(stepfunctions: Any, task_token: str) -> bool:
    """Heartbeat the task: True while Step Functions waits for the token, False once it does not.

    Raises SendFailed when Step Functions could not be asked (throttling, 5xx, network).
    """
    try:
        stepfunctions.send_task_heartbeat(taskToken=task_token)
    except ClientError as error:
        if aws_error_code(error) in TOKEN_GONE_CODES or is_deterministic_refusal(error):
            return False  # no task waits for this token, or none ever could
        raise SendFailed(aws_error_code(error), maybe_delivered=False) from error
    except BotoCoreError as error:
        raise SendFailed(type(error).__name__, maybe_delivered=False) from error
    return True


def send_outcome(stepfunctions: Any, task_token: str, outcome: TaskOutcome) -> None:
    try:
        if outcome.succeeded:
            stepfunctions.send_task_success(taskToken=task_token, output=outcome.output)
        else:
            stepfunctions.send_task_failure(
                taskToken=task_token, error=outcome.error, cause=outcome.cause
            )
    except ClientError as error:
        code = aws_error_code(error)
        if code in TOKEN_GONE_CODES:
            raise TokenGone(code, maybe_delivered=reached_aws(error)) from error
        if is_deterministic_refusal(error):
            raise SendRefused(code) from error
        raise SendFailed(code, maybe_delivered=reached_aws(error)) from error
    except BotoCoreError as error:
        raise SendFailed(type(error).__name__, maybe_delivered=reached_aws(error)) from error
