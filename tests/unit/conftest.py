"""A moto AWS with the callback table and a waiting state machine, and the handler invoked on it."""

import base64
import copy
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import moto
import pytest

from localdev import aws_setup
from localdev.lambda_context import LocalLambdaContext
from localdev.local_aws import EXECUTE_STATE_MACHINES
from runpod_callbacks.dynamodb_values import from_item

EVENTS = Path(__file__).parent.parent / "events"


FakeLambdaContext = LocalLambdaContext  # the Lambda context dataclass, shared with localdev


def load_event(name: str) -> Any:
    return json.loads((EVENTS / name).read_text())


def webhook_event(
    callback_token: str, body: Any, *, base64_encoded: bool = False
) -> dict[str, Any]:
    """An API Gateway REST proxy event for POST /webhook/{callback_token}.

    The body is JSON-encoded unless it is text already; bytes travel base64-encoded, as API
    Gateway sends a body it does not take for text.
    """
    event: dict[str, Any] = copy.deepcopy(load_event("webhook_post.json"))
    raw = body if isinstance(body, bytes) else None
    text = body if isinstance(body, str | bytes) else json.dumps(body)
    event["path"] = f"/webhook/{callback_token}"
    event["requestContext"]["path"] = f"/v1/webhook/{callback_token}"
    event["pathParameters"] = {"callback_token": callback_token}
    event["isBase64Encoded"] = base64_encoded or raw is not None
    if event["isBase64Encoded"]:
        event["body"] = base64.b64encode(text.encode() if raw is None else raw).decode()
    else:
        event["body"] = text
    return event


@dataclass
class Job:
    """One waiting execution and the callback token its record is stored under."""

    execution_arn: str
    callback_token: str


class LocalWebhook:
    """The deployed system in miniature: table, state machine, and the real handler."""

    def __init__(self, handler: Any) -> None:
        self.handler = handler
        self.table_name = handler.callback_table_name()
        self.dynamodb = boto3.client("dynamodb")
        self.stepfunctions = boto3.client("stepfunctions")
        aws_setup.create_callback_table(self.dynamodb, self.table_name)
        self.state_machine_arn = aws_setup.create_state_machine(
            self.stepfunctions, "runpod-job", aws_setup.waiting_task_definition(self.table_name)
        )
        self.impatient_state_machine_arn = aws_setup.create_state_machine(
            self.stepfunctions,
            "impatient-runpod-job",
            aws_setup.waiting_task_definition(self.table_name, timeout_s=1),
        )

    def start_job(
        self, job_id: str = "runpod-job-123", *, impatient: bool = False, **kwargs: Any
    ) -> Job:
        """Start an execution that waits; an impatient one gives up after one second."""
        execution_arn, token = aws_setup.start_waiting_execution(
            self.stepfunctions,
            self.impatient_state_machine_arn if impatient else self.state_machine_arn,
            segment_filename="seg_0001.mp4",
            job_id=job_id,
            **kwargs,
        )
        aws_setup.wait_for_record(self.dynamodb, self.table_name, token)
        return Job(execution_arn, token)

    def deliver(self, callback_token: str, body: Any, **kwargs: Any) -> dict[str, Any]:
        response: dict[str, Any] = self.handler.lambda_handler(
            webhook_event(callback_token, body, **kwargs), FakeLambdaContext()
        )
        return response

    def record(self, callback_token: str) -> dict[str, Any] | None:
        item = self.dynamodb.get_item(
            TableName=self.table_name,
            Key={"callback_token": {"S": callback_token}},
            ConsistentRead=True,
        ).get("Item")
        return from_item(item) if item else None

    def all_records(self) -> list[dict[str, Any]]:
        return [from_item(item) for item in self.dynamodb.scan(TableName=self.table_name)["Items"]]

    def execution(self, job: Job) -> dict[str, Any]:
        return aws_setup.wait_for_execution(self.stepfunctions, job.execution_arn)

    def status_now(self, job: Job) -> str:
        return str(self.stepfunctions.describe_execution(executionArn=job.execution_arn)["status"])

    def execution_error(self, job: Job) -> str | None:
        self.execution(job)
        return aws_setup.execution_failure(self.stepfunctions, job.execution_arn).get("error")


class _CurrentStdout:
    """Whatever sys.stdout is at the moment of writing, so capsys sees the handler's log lines."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def handler() -> Any:
    import handler as webhook_handler

    webhook_handler.logger.registered_handler.setStream(_CurrentStdout())
    return webhook_handler


@pytest.fixture
def local_webhook(handler: Any) -> Iterator[LocalWebhook]:
    with moto.mock_aws(config=EXECUTE_STATE_MACHINES):
        yield LocalWebhook(handler)


class SentTasks(list[str]):
    """The names of the SendTask* calls made, in order; ``requests`` holds their parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[dict[str, Any]] = []

    def clear(self) -> None:
        super().clear()
        self.requests.clear()

    def record(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.append(model.name)
        self.requests.append(dict(params))

    def output(self) -> Any:
        """The task output of the one SendTaskSuccess, numbers parsed exactly (as Decimal)."""
        (request,) = [
            r for name, r in zip(self, self.requests, strict=True) if name == "SendTaskSuccess"
        ]
        return json.loads(request["output"], parse_float=Decimal)

    def failure(self) -> dict[str, Any]:
        """The parameters of the last SendTaskFailure (moto does not keep the cause)."""
        return [
            r for name, r in zip(self, self.requests, strict=True) if name == "SendTaskFailure"
        ][-1]


@pytest.fixture
def sent_tasks(handler: Any) -> Iterator[SentTasks]:
    """The SendTask* calls the handler makes, in order, seen at its client (once per call)."""
    sent = SentTasks()
    events = handler.stepfunctions.meta.events
    for operation in ("SendTaskSuccess", "SendTaskFailure"):
        events.register(f"before-parameter-build.sfn.{operation}", sent.record)
    yield sent
    for operation in ("SendTaskSuccess", "SendTaskFailure"):
        events.unregister(f"before-parameter-build.sfn.{operation}", sent.record)


def body(name: str, **overrides: Any) -> dict[str, Any]:
    """A RunPod webhook body from tests/events, with fields replaced."""
    return {**load_event(name), **overrides}


def response_json(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


@pytest.fixture
def live_job(local_webhook: LocalWebhook) -> Job:
    """An execution waiting for job runpod-job-123."""
    return local_webhook.start_job(job_id="runpod-job-123")
