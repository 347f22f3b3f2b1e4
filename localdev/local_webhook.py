"""The deployed system in miniature: the callback table, a state machine that stores its task
token and waits, and the real webhook handler invoked with the events API Gateway would send.

Shared by the tests and `make bench`; moto (in-process or a server) plays AWS.
"""

import base64
import json
from dataclasses import dataclass
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer

from localdev import aws_setup
from localdev.lambda_context import LocalLambdaContext
from localdev.proxy_events import to_proxy_event
from localdev.webhook_server import WEBHOOK_ROUTES

RUNPOD_HEADERS = (("Content-Type", "application/json"), ("User-Agent", "RunPod-Webhook"))
_deserializer = TypeDeserializer()


def webhook_event(
    callback_token: str, body: str | bytes, *, base64_encoded: bool = False
) -> dict[str, Any]:
    """API Gateway's REST proxy event for RunPod's POST /webhook/{callback_token}.

    A body that is not UTF-8 travels base64-encoded, as API Gateway sends it; ``base64_encoded``
    encodes a text body too (API Gateway does so for binary media types).
    """
    raw = body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass")
    event = to_proxy_event(
        "POST", f"/webhook/{callback_token}", RUNPOD_HEADERS, raw, routes=WEBHOOK_ROUTES, stage="v1"
    )
    if base64_encoded and not event["isBase64Encoded"]:
        event["body"], event["isBase64Encoded"] = base64.b64encode(raw).decode(), True
    return event


@dataclass
class Job:
    """One waiting execution and the callback token its record is stored under."""

    execution_arn: str
    callback_token: str


class LocalWebhook:
    """The table and two waiting state machines (one gives up after a second) on the current
    AWS, and the loaded webhook handler module that RunPod's deliveries go to."""

    def __init__(self, function: Any, **clients: Any) -> None:
        self.function = function
        self.table_name = function.callback_table_name()
        self.dynamodb = clients.get("dynamodb") or boto3.client("dynamodb")
        self.stepfunctions = clients.get("stepfunctions") or boto3.client("stepfunctions")
        aws_setup.create_callback_table(self.dynamodb, self.table_name)
        self.state_machine_arn = aws_setup.create_state_machine(
            self.stepfunctions, "runpod-job", aws_setup.waiting_task_definition(self.table_name)
        )
        self.impatient_state_machine_arn = aws_setup.create_state_machine(
            self.stepfunctions,
            "impatient-runpod-job",
            aws_setup.waiting_task_definition(self.table_name, timeout_s=1, heartbeat_s=None),
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
        """RunPod's POST: a body that is not text already is sent as its JSON."""
        text = body if isinstance(body, str | bytes) else json.dumps(body)
        response: dict[str, Any] = self.function.lambda_handler(
            webhook_event(callback_token, text, **kwargs), LocalLambdaContext()
        )
        return response

    def record(self, callback_token: str) -> dict[str, Any] | None:
        item = self.dynamodb.get_item(
            TableName=self.table_name,
            Key={"callback_token": {"S": callback_token}},
            ConsistentRead=True,
        ).get("Item")
        return _from_item(item) if item else None

    def all_records(self) -> list[dict[str, Any]]:
        items = self.dynamodb.scan(TableName=self.table_name)["Items"]
        return [_from_item(item) for item in items]

    def execution(self, job: Job) -> dict[str, Any]:
        return aws_setup.wait_for_execution(self.stepfunctions, job.execution_arn)

    def status_now(self, job: Job) -> str:
        return str(self.stepfunctions.describe_execution(executionArn=job.execution_arn)["status"])

    def execution_error(self, job: Job) -> str | None:
        self.execution(job)
        return aws_setup.execution_failure(self.stepfunctions, job.execution_arn).get("error")


def _from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}
