"""Concurrent deliveries, each in its own process as Lambda runs them: exactly one SendTask*."""

import multiprocessing
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from moto.dynamodb.models import DynamoDBBackend
from moto.stepfunctions.responses import StepFunctionResponse

from localdev import aws_setup
from localdev.fake_runpod import FakeJob, FakeRunPod, finish_job, serve_fake_runpod
from localdev.local_aws import local_aws, reset_local_aws
from tests.e2e.conftest import body
from tests.e2e.lambda_instance import deliver_once, watch_once

INSTANCES = 8


def _locked(method: Callable[..., Any], lock: threading.Lock) -> Callable[..., Any]:
    def with_lock(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return method(*args, **kwargs)

    return with_lock


@pytest.fixture(scope="module")
def shared_moto_server() -> Iterator[tuple[str, Counter[str]]]:
    """moto with DynamoDB's per-item atomicity, counting the SendTask* calls it receives; one
    server for the module (starting one takes longer than a test here)."""
    lock = threading.Lock()
    received: Counter[str] = Counter()
    with pytest.MonkeyPatch.context() as monkeypatch:
        for operation in ("get_item", "put_item", "update_item", "delete_item"):
            monkeypatch.setattr(
                DynamoDBBackend, operation, _locked(getattr(DynamoDBBackend, operation), lock)
            )
        for operation in ("send_task_success", "send_task_failure"):
            original = getattr(StepFunctionResponse, operation)

            def counted(self: Any, _original: Any = original, _name: str = operation) -> Any:
                received[_name] += 1
                return _original(self)

            monkeypatch.setattr(StepFunctionResponse, operation, counted)
        with local_aws() as endpoint:
            yield endpoint, received


@pytest.fixture
def moto_server(
    shared_moto_server: tuple[str, Counter[str]],
) -> tuple[str, Counter[str]]:
    """The module's server, empty and with nothing counted, as if started for this test."""
    endpoint, received = shared_moto_server
    reset_local_aws(endpoint)
    received.clear()
    return shared_moto_server


TABLE = "test-runpod-callbacks"


def _waiting_job(endpoint: str) -> tuple[Any, Any, str, str]:
    """The table, a state machine and an execution waiting for job runpod-job-123; returns the
    clients, the execution and its callback token."""
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint)
    stepfunctions = boto3.client("stepfunctions", endpoint_url=endpoint)
    aws_setup.create_callback_table(dynamodb, TABLE)
    machine = aws_setup.create_state_machine(
        stepfunctions, "runpod-job", aws_setup.waiting_task_definition(TABLE)
    )
    execution_arn, token = aws_setup.start_waiting_execution(
        stepfunctions, machine, segment_filename="seg_0001.mp4", job_id="runpod-job-123"
    )
    aws_setup.wait_for_record(dynamodb, TABLE, token)
    return dynamodb, stepfunctions, execution_arn, token


@pytest.mark.parametrize(
    ("webhook", "final_status", "record_status"),
    [("completed.json", "SUCCEEDED", "COMPLETED"), ("failed.json", "FAILED", "FAILED")],
)
def test_concurrent_duplicates_resume_the_task_exactly_once(
    moto_server: tuple[str, Counter[str]], webhook: str, final_status: str, record_status: str
) -> None:
    endpoint, received = moto_server
    dynamodb, stepfunctions, execution_arn, token = _waiting_job(endpoint)

    spawn = multiprocessing.get_context("spawn")
    start = spawn.Barrier(INSTANCES)
    results = spawn.Queue()
    instances = [
        spawn.Process(target=deliver_once, args=(endpoint, token, body(webhook), start, results))
        for _ in range(INSTANCES)
    ]
    for instance in instances:
        instance.start()
    statuses = sorted(results.get(timeout=180) for _ in instances)
    for instance in instances:
        instance.join(timeout=30)

    assert sum(received.values()) == 1
    assert all(status in (200, 409) for status in statuses), statuses
    assert statuses.count(200) >= 1
    execution = aws_setup.wait_for_execution(stepfunctions, execution_arn)
    assert execution["status"] == final_status
    record = dynamodb.get_item(TableName=TABLE, Key={"callback_token": {"S": token}})["Item"]
    assert record["status"]["S"] == record_status


def test_webhook_and_watchdog_racing_resume_the_task_exactly_once(
    moto_server: tuple[str, Counter[str]],
) -> None:
    """A late webhook and watchdog runs reach the same stale record at the same moment."""
    endpoint, received = moto_server
    dynamodb, stepfunctions, execution_arn, token = _waiting_job(endpoint)
    dynamodb.update_item(  # submitted an hour ago, as the submit function records it
        TableName=TABLE,
        Key={"callback_token": {"S": token}},
        UpdateExpression="SET endpoint_id = :endpoint, created_at = :an_hour_ago",
        ExpressionAttributeValues={
            ":endpoint": {"S": "upscaler-v2"},
            ":an_hour_ago": {"S": "2026-01-06T11:00:00.000Z"},
        },
    )
    secret = boto3.client("secretsmanager", endpoint_url=endpoint).create_secret(
        Name="runpod-api-key", SecretString="rp_race_key"
    )
    runpod = FakeRunPod()
    finished = finish_job("runpod-job-123", {"segment": "seg_0001.mp4"})
    runpod.jobs["runpod-job-123"] = FakeJob(
        "runpod-job-123", "upscaler-v2", {}, None, finished["status"], finished
    )
    with serve_fake_runpod(runpod) as runpod_api:
        settings = {"RUNPOD_API_BASE_URL": runpod_api, "RUNPOD_API_KEY_SECRET_ARN": secret["ARN"]}
        spawn = multiprocessing.get_context("spawn")
        start = spawn.Barrier(INSTANCES)
        webhook_answers, recovered = spawn.Queue(), spawn.Queue()
        instances = [
            spawn.Process(
                target=deliver_once, args=(endpoint, token, finished, start, webhook_answers)
            )
            for _ in range(INSTANCES // 2)
        ] + [
            spawn.Process(target=watch_once, args=(endpoint, settings, start, recovered))
            for _ in range(INSTANCES // 2)
        ]
        for instance in instances:
            instance.start()
        statuses = [webhook_answers.get(timeout=180) for _ in range(INSTANCES // 2)]
        recoveries = [recovered.get(timeout=180) for _ in range(INSTANCES // 2)]
        for instance in instances:
            instance.join(timeout=30)

    assert sum(received.values()) == 1
    assert all(status in (200, 409) for status in statuses), statuses
    assert sum(recoveries) <= 1
    execution = aws_setup.wait_for_execution(stepfunctions, execution_arn)
    assert execution["status"] == "SUCCEEDED"
    record = dynamodb.get_item(TableName=TABLE, Key={"callback_token": {"S": token}})["Item"]
    assert record["status"]["S"] == "COMPLETED"
