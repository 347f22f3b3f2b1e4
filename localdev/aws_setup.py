"""The callback table and a state machine that stores its task token and waits, on any AWS.

Shared by the demo, `make serve` and the tests: all of them run the wiring a user's stack runs.
"""

import io
import json
import time
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

RECORD_LIFETIME = timedelta(days=7)
# Three periods of the watchdog's default schedule (rate(2 minutes)), as the README recommends.
HEARTBEAT_S = 360
# The own submitter's waiting task (docs/operations.md). Without TimeoutSeconds, moto gives a
# Task that declares HeartbeatSeconds 60 s (AWS: a year): a hand-played webhook later got 410.
TIMEOUT_S = 3600
# moto accepts any role; real AWS needs one that may call dynamodb:PutItem on the table.
DEFAULT_ROLE_ARN = "arn:aws:iam::123456789012:role/runpod-webhook-demo"


def create_callback_table(dynamodb: Any, table_name: str) -> None:
    """The table as the module creates it (dynamodb.tf), its index for the watchdog included."""
    dynamodb.create_table(
        TableName=table_name,
        KeySchema=[{"AttributeName": "callback_token", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": name, "AttributeType": "S"}
            for name in ("callback_token", "pending_shard", "created_at", "execution_arn")
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "pending_shard-created_at",
                "KeySchema": [
                    {"AttributeName": "pending_shard", "KeyType": "HASH"},
                    {"AttributeName": "created_at", "KeyType": "RANGE"},
                ],
                "Projection": {
                    "ProjectionType": "INCLUDE",
                    "NonKeyAttributes": [
                        "job_id",
                        "endpoint_id",
                        "task_token",
                        "runpod_forgets_at",
                    ],
                },
            },
            {
                "IndexName": "execution_arn",
                "KeySchema": [{"AttributeName": "execution_arn", "KeyType": "HASH"}],
                "Projection": {
                    "ProjectionType": "INCLUDE",
                    "NonKeyAttributes": ["status", "job_id", "endpoint_id"],
                },
            },
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.update_time_to_live(
        TableName=table_name,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"},
    )


def waiting_task_definition(
    table_name: str, timeout_s: int | None = TIMEOUT_S, heartbeat_s: int | None = HEARTBEAT_S
) -> dict[str, Any]:
    """One Task state that writes the seed's record with its task token, then waits for it.

    With HeartbeatSeconds the watchdog's heartbeats are the liveness check (moto, unlike AWS,
    refuses heartbeats for a Task without it); it must be below TimeoutSeconds.
    """
    definition: dict[str, Any] = {
        "Comment": "Store the task token under a callback token and wait for RunPod's webhook",
        "StartAt": "WaitForRunPod",
        "States": {
            "WaitForRunPod": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:dynamodb:putItem.waitForTaskToken",
                "Parameters": {
                    "TableName": table_name,
                    "Item": {
                        "callback_token": {"S.$": "$.callback_token"},
                        "task_token": {"S.$": "$$.Task.Token"},
                        "job_id": {"S.$": "$.job_id"},
                        "exec_id": {"S.$": "$.exec_id"},
                        "segment_filename": {"S.$": "$.segment_filename"},
                        "status": {"S": "PENDING"},
                        "created_at": {"S.$": "$.created_at"},
                        # The watchdog's index spreads PENDING records over shards "0" to "15".
                        "pending_shard": {"S.$": "States.Format('{}', States.MathRandom(0, 15))"},
                        "execution_arn": {"S.$": "$$.Execution.Id"},
                        "ttl": {"N.$": "$.ttl"},
                    },
                },
                "End": True,
            }
        },
    }
    limits = {"TimeoutSeconds": timeout_s, "HeartbeatSeconds": heartbeat_s}
    definition["States"]["WaitForRunPod"].update(
        {name: value for name, value in limits.items() if value is not None}
    )
    return definition


def create_state_machine(
    stepfunctions: Any, name: str, definition: dict[str, Any], role_arn: str = DEFAULT_ROLE_ARN
) -> str:
    response = stepfunctions.create_state_machine(
        name=name, definition=json.dumps(definition), roleArn=role_arn
    )
    return str(response["stateMachineArn"])


def start_waiting_execution(
    stepfunctions: Any,
    state_machine_arn: str,
    *,
    segment_filename: str,
    job_id: str = "",
    callback_token: str | None = None,
) -> tuple[str, str]:
    """Start an execution; returns (execution ARN, callback token)."""
    callback_token = callback_token or uuid.uuid4().hex
    now = datetime.now(UTC)
    execution_input = {
        "callback_token": callback_token,
        "job_id": job_id,
        "exec_id": f"exec-{callback_token[:8]}",
        "segment_filename": segment_filename,
        "created_at": now.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "ttl": str(int((now + RECORD_LIFETIME).timestamp())),
    }
    response = stepfunctions.start_execution(
        stateMachineArn=state_machine_arn,
        name=execution_name(),
        input=json.dumps(execution_input),
    )
    return str(response["executionArn"]), callback_token


def execution_name() -> str:
    return f"segment-{uuid.uuid4().hex[:12]}"


def wait_for_record(
    dynamodb: Any, table_name: str, callback_token: str, timeout_s: float = 10
) -> dict[str, Any]:
    """Executions run in the background: poll until the state machine has stored its token."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        item = dynamodb.get_item(
            TableName=table_name, Key={"callback_token": {"S": callback_token}}, ConsistentRead=True
        ).get("Item")
        if item:
            return dict(item)
        time.sleep(0.05)
    raise TimeoutError(f"no callback record appeared within {timeout_s} s")


def stop_waiting_execution(
    stepfunctions: Any, execution_arn: str, task_token: str
) -> dict[str, Any]:
    """Stop an execution whose task waits, as a user would; returns it once stopped. moto, unlike
    AWS, settles the stop only at the task's next heartbeat: give it one, as the watchdog's
    would."""
    stepfunctions.stop_execution(executionArn=execution_arn)
    stepfunctions.send_task_heartbeat(taskToken=task_token)
    return wait_for_execution(stepfunctions, execution_arn)


def status_change_event(execution: dict[str, Any], status: str) -> dict[str, Any]:
    """The EventBridge event Step Functions sends when an execution's status changes (moto sends
    none): ``execution`` as describe_execution answers, ``status`` what AWS says (a stopped
    execution is ABORTED; moto says FAILED)."""
    arn = str(execution["executionArn"])
    region, account = arn.split(":")[3:5]
    stop = execution.get("stopDate") or datetime.now(UTC)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": account,
        "time": stop.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "region": region,
        "resources": [arn],
        "detail": {
            "executionArn": arn,
            "stateMachineArn": execution["stateMachineArn"],
            "name": execution["name"],
            "status": status,
            "startDate": int(execution["startDate"].timestamp() * 1000),
            "stopDate": int(stop.timestamp() * 1000),
        },
    }


def wait_for_execution(
    stepfunctions: Any, execution_arn: str, timeout_s: float = 10
) -> dict[str, Any]:
    """Poll until the execution leaves RUNNING; returns describe_execution's answer."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        execution = stepfunctions.describe_execution(executionArn=execution_arn)
        if execution["status"] != "RUNNING":
            return dict(execution)
        time.sleep(0.05)
    raise TimeoutError(f"execution still RUNNING after {timeout_s} s")


def execution_failure(stepfunctions: Any, execution_arn: str) -> dict[str, Any]:
    """The execution's failure details (moto leaves error and cause out of describe_execution)."""
    events = stepfunctions.get_execution_history(executionArn=execution_arn, reverseOrder=True)
    for event in events["events"]:
        details = event.get("executionFailedEventDetails") or event.get("taskFailedEventDetails")
        if details:
            return dict(details)
    return {}


def submitting_task_definition(
    submit_function_arn: str, timeout_s: int = TIMEOUT_S
) -> dict[str, Any]:
    """One Task state: the submit function stores the token, submits the job, and the task waits."""
    return {
        "Comment": "Run a RunPod job as one task: submit, then wait for the webhook",
        "StartAt": "RunOnRunPod",
        "States": {
            "RunOnRunPod": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                "Parameters": {
                    "FunctionName": submit_function_arn,
                    "Payload": {
                        "task_token.$": "$$.Task.Token",
                        "endpoint_id.$": "$.endpoint_id",
                        "input.$": "$.input",
                        "exec_id.$": "$.exec_id",
                        "segment_filename.$": "$.segment_filename",
                        "execution_arn.$": "$$.Execution.Id",
                    },
                },
                "TimeoutSeconds": timeout_s,
                "HeartbeatSeconds": HEARTBEAT_S,
                "End": True,
            }
        },
    }


def scheduled_lambda_payload(
    stepfunctions: Any, execution_arn: str, timeout_s: float = 10
) -> dict[str, Any]:
    """The payload Step Functions sent the submit function (what Lambda would hand the handler)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        history = stepfunctions.get_execution_history(executionArn=execution_arn)["events"]
        for event in history:
            details = event.get("taskScheduledEventDetails")
            if details and details["resourceType"] == "lambda":
                return dict(json.loads(details["parameters"])["Payload"])
        time.sleep(0.05)
    raise TimeoutError(f"no Lambda task scheduled within {timeout_s} s")


def create_function(
    iam: Any, lambda_client: Any, name: str, module: str, environment: dict[str, str] | None = None
) -> str:
    """Register lambda/<module>.py's function with its environment, which the local system reads
    back to run the function as Lambda would (moto runs no code)."""
    role = iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as code:
        code.writestr(f"{module}.py", "# stands in for the real zip\n")
    function = lambda_client.create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=role["Role"]["Arn"],
        Handler=f"{module}.lambda_handler",
        Code={"ZipFile": archive.getvalue()},
        Environment={"Variables": environment or {}},
    )
    return str(function["FunctionArn"])


def start_submitting_execution(
    stepfunctions: Any,
    state_machine_arn: str,
    *,
    endpoint_id: str,
    job_input: dict[str, Any],
    segment_filename: str,
) -> str:
    name = execution_name()
    response = stepfunctions.start_execution(
        stateMachineArn=state_machine_arn,
        name=name,
        input=json.dumps(
            {
                "endpoint_id": endpoint_id,
                "input": job_input,
                "exec_id": name,
                "segment_filename": segment_filename,
            }
        ),
    )
    return str(response["executionArn"])
