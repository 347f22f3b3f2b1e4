"""Resume the waiting task: one SendTaskSuccess or SendTaskFailure call, its failures classified."""

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from runpod_callbacks.aws import aws_error_code, was_retried
from runpod_callbacks.task_outcome import TaskOutcome

# AWS answers TaskTimedOut for a token that was used or timed out; moto answers InvalidToken.
TOKEN_GONE_CODES = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})


class TokenGone(Exception):
    """Step Functions no longer waits for this token."""

    def __init__(self, code: str, *, after_retry: bool) -> None:
        super().__init__(code)
        self.after_retry = after_retry


class SendFailed(Exception):
    def __init__(self, reason: str, *, maybe_delivered: bool) -> None:
        super().__init__(reason)
        self.maybe_delivered = maybe_delivered


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
            # After a retry, "gone" most likely means our own earlier try resumed the task.
            raise TokenGone(code, after_retry=was_retried(error)) from error
        http_status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500))
        raise SendFailed(code, maybe_delivered=was_retried(error) or http_status >= 500) from error
    except BotoCoreError as error:  # a timeout may hide a request that Step Functions processed
        raise SendFailed(type(error).__name__, maybe_delivered=True) from error
