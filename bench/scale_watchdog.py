"""`make scale`, part 1: one watchdog run over N stale PENDING records of one endpoint.

9 in 10 jobs still run at RunPod (the watchdog heartbeats their tasks), 1 in 10 finished and
their webhooks were lost (the watchdog recovers them through the delivery path). The real
watchdog function runs against moto in this process (DynamoDB real in moto, with
bench/moto_speed.py's Query shim) and the fake RunPod behind RunPod's limits on loopback, in
real time: RunPod's round trip is slept, the watchdog's pacing is its own.

Step Functions: with ``real`` executions, each record is written by a moto state machine
execution whose Task waits on its token (heartbeats and the recovered results reach it). moto
takes about 30 ms of CPU and three threads to start one execution, so for larger N the waiting
tasks are simulated: the records are written as the submit function writes them, and the
watchdog's SendTask* calls are answered by SimulatedTasks, which knows every token, refuses an
unknown or closed one (InvalidToken) and applies the account's SendTask* quota (a bucket of
1,500 refilled at 300 a second: the smaller regions').

Usage: python -m bench.scale_watchdog <result file> <N> real|simulated [latency low high]
"""

import json
import multiprocessing
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from typing import Any

import boto3

from bench.limited_runpod import Latency, LimitedRunPod, serve_limited_runpod
from bench.moto_speed import faster_moto
from bench.scale_common import (
    API_KEY,
    ENDPOINT_ID,
    TABLE_NAME,
    TASK_TOKEN_LENGTH,
    WATCHDOG_TIMEOUT_S,
    measured,
    quiet,
    set_aws_environment,
    sized_part_main,
)
from localdev import aws_setup
from localdev.fake_runpod import FakeJob, FakeRunPod, finish_job
from localdev.lambda_context import LocalLambdaContext
from localdev.local_aws import in_process_aws
from localdev.runtime import load_function

FINISHED_EVERY = 10  # one job in ten finished, its webhook lost
STALE_FOR = timedelta(minutes=10)
TOKEN_CHARACTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"  # noqa: S105


def job_id_of(index: int) -> str:
    return f"job-{index:06d}"


def finished(index: int) -> bool:
    return index % FINISHED_EVERY == 0


@dataclass
class _Task:
    heartbeats: int = 0
    outcomes: list[str] = field(default_factory=list)


class SimulatedTasks:
    """Step Functions' side of N waiting tasks, answering the watchdog's SendTask* calls."""

    def __init__(self, tokens: list[str], per_second: float = 300, bucket: float = 1500) -> None:
        self.tasks = {token: _Task() for token in tokens}
        self.throttled = 0
        self.refused = 0
        self._per_second = per_second
        self._bucket = bucket
        self._tokens = bucket
        self._refilled = time.monotonic()
        self._lock = threading.Lock()

    def answer(self, request: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        operation = request.headers["X-Amz-Target"].decode().split(".")[-1]
        token = json.loads(request.body)["taskToken"]
        with self._lock:
            error = self._take(operation, token)
        status = 400 if error else 200
        body = json.dumps({"__type": error, "message": error} if error else {}).encode()
        headers: Any = {"x-amzn-RequestId": "scale"}
        response = AWSResponse(request.url, status, headers, _Raw(body))
        response._content = body  # type: ignore[attr-defined]
        return response

    def _take(self, operation: str, token: str) -> str | None:
        now = time.monotonic()
        self._tokens = min(self._bucket, self._tokens + (now - self._refilled) * self._per_second)
        self._refilled = now
        if self._tokens < 1:
            self.throttled += 1
            return "ThrottlingException"
        self._tokens -= 1
        task = self.tasks.get(token)
        if task is None or task.outcomes:
            self.refused += 1
            return "InvalidToken"
        if operation == "SendTaskHeartbeat":
            task.heartbeats += 1
        else:
            task.outcomes.append(operation)
        return None


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


@contextmanager
def answered_by(client: Any, tasks: SimulatedTasks) -> Iterator[None]:
    events = client.meta.events
    events.register_first("before-send.sfn", tasks.answer)
    try:
        yield
    finally:
        events.unregister("before-send.sfn", tasks.answer)


def _record(index: int, created: datetime, rng: random.Random) -> dict[str, Any]:
    """A PENDING record as the submit function writes it (submission.JobSubmission)."""
    from runpod_callbacks.record_table import iso_time, pending_shard

    callback_token = uuid.UUID(int=rng.getrandbits(128)).hex
    task_token = "".join(rng.choices(TOKEN_CHARACTERS, k=TASK_TOKEN_LENGTH))
    return {
        "callback_token": callback_token,
        "submission_id": uuid.UUID(int=rng.getrandbits(128)).hex,
        "task_token": task_token,
        "job_id": job_id_of(index),
        "status": "PENDING",
        "exec_id": f"exec-{index:06d}",
        "segment_filename": f"seg_{index:06d}.mp4",
        "endpoint_id": ENDPOINT_ID,
        "created_at": iso_time(created),
        "pending_shard": pending_shard(callback_token),
        "runpod_forgets_at": iso_time(created + timedelta(hours=24, minutes=30)),
        "ttl": int(created.timestamp()) + 7 * 24 * 3600,
    }


def write_records(dynamodb: Any, count: int) -> list[dict[str, Any]]:
    from runpod_callbacks.dynamodb_values import to_attribute

    rng = random.Random(1)  # noqa: S311 - a benchmark's draws, not secrets
    start = datetime.now(UTC) - STALE_FOR
    records = [_record(i, start + timedelta(milliseconds=i), rng) for i in range(count)]
    for first in range(0, count, 25):
        batch = [
            {"PutRequest": {"Item": {k: to_attribute(v) for k, v in record.items()}}}
            for record in records[first : first + 25]
        ]
        dynamodb.batch_write_item(RequestItems={TABLE_NAME: batch})
    return records


def waiting_definition() -> dict[str, Any]:
    """localdev's waiting Task (HeartbeatSeconds 360), storing the endpoint id too."""
    definition = aws_setup.waiting_task_definition(TABLE_NAME)
    item = definition["States"]["WaitForRunPod"]["Parameters"]["Item"]
    item["endpoint_id"] = {"S.$": "$.endpoint_id"}
    return definition


def start_executions(stepfunctions: Any, dynamodb: Any, count: int) -> list[str]:
    """N executions whose tasks wait, their records created STALE_FOR ago; their ARNs."""
    from runpod_callbacks.record_table import iso_time

    machine = aws_setup.create_state_machine(stepfunctions, "scale-wait", waiting_definition())
    start = datetime.now(UTC) - STALE_FOR
    arns = []
    for index in range(count):
        execution_input = {
            "callback_token": uuid.uuid4().hex,
            "job_id": job_id_of(index),
            "endpoint_id": ENDPOINT_ID,
            "exec_id": f"exec-{index:06d}",
            "segment_filename": f"seg_{index:06d}.mp4",
            "created_at": iso_time(start + timedelta(milliseconds=index)),
            "ttl": str(int(start.timestamp()) + 7 * 24 * 3600),
        }
        started = stepfunctions.start_execution(
            stateMachineArn=machine, name=f"scale-{index:06d}", input=json.dumps(execution_input)
        )
        arns.append(started["executionArn"])
    deadline = time.monotonic() + 60 + count / 10
    while dynamodb.scan(TableName=TABLE_NAME, Select="COUNT")["Count"] < count:
        if time.monotonic() > deadline:
            raise TimeoutError("the executions did not store their records in time")
        time.sleep(0.5)
    return arns


def fake_jobs(runpod: FakeRunPod, count: int) -> None:
    for index in range(count):
        job_id = job_id_of(index)
        job = FakeJob(job_id, ENDPOINT_ID, {"segment": f"seg_{index:06d}.mp4"}, None)
        if finished(index):
            job.result = finish_job(job_id, job.job_input)
            job.status = job.result["status"]
        else:
            job.status = "IN_PROGRESS"
        runpod.jobs[job_id] = job


def pending_left(dynamodb: Any) -> int:
    count, start = 0, None
    while True:
        page = dynamodb.scan(
            TableName=TABLE_NAME,
            Select="COUNT",
            FilterExpression="#s = :pending",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":pending": {"S": "PENDING"}},
            **({"ExclusiveStartKey": start} if start else {}),
        )
        count += int(page["Count"])
        start = page.get("LastEvaluatedKey")
        if not start:
            return count


def execution_statuses(stepfunctions: Any, arns: list[str], settle_s: float = 30) -> Counter[str]:
    """The executions' statuses, once the recovered ones had time to finish."""
    deadline = time.monotonic() + settle_s
    while True:
        statuses = Counter(
            str(stepfunctions.describe_execution(executionArn=arn)["status"]) for arn in arns
        )
        still_running = sum(not finished(index) for index in range(len(arns)))
        if statuses["RUNNING"] <= still_running or time.monotonic() > deadline:
            return statuses
        time.sleep(0.5)


def _serve_runpod(connection: Connection, count: int, latency: Latency) -> None:
    """The fake RunPod, in a process of its own as RunPod is: its CPU is not the watchdog's."""
    runpod = FakeRunPod()
    fake_jobs(runpod, count)
    limited = LimitedRunPod(runpod, latency=latency)
    with serve_limited_runpod(limited) as api:
        connection.send(api)
        connection.recv()
        connection.send({**limited.counts(), "cancel_requests": len(runpod.cancel_requests)})


@contextmanager
def runpod_process(count: int, latency: Latency) -> Iterator[tuple[str, Callable[[], Any]]]:
    """Yields the fake's base URL, and a call that stops it and returns its counts."""
    ours, theirs = multiprocessing.get_context("fork").Pipe()
    process = multiprocessing.get_context("fork").Process(
        target=_serve_runpod, args=(theirs, count, latency), daemon=True
    )
    process.start()
    counts: list[Any] = []

    def stop() -> Any:
        if not counts:
            ours.send("stop")
            counts.append(ours.recv())
        return counts[0]

    try:
        yield str(ours.recv()), stop
    finally:
        stop()
        process.join(timeout=10)


def run(count: int, real: bool, latency: Latency) -> dict[str, Any]:
    set_aws_environment()
    with runpod_process(count, latency) as (api, runpod_counts), in_process_aws(), faster_moto():
        dynamodb, stepfunctions = boto3.client("dynamodb"), boto3.client("stepfunctions")
        aws_setup.create_callback_table(dynamodb, TABLE_NAME)
        secret = boto3.client("secretsmanager").create_secret(
            Name="runpod-api-key", SecretString=API_KEY
        )
        setup_started = time.perf_counter()
        arns: list[str] = []
        tasks: SimulatedTasks | None = None
        if real:
            arns = start_executions(stepfunctions, dynamodb, count)
        else:
            records = write_records(dynamodb, count)
            tasks = SimulatedTasks([record["task_token"] for record in records])
        setup_s = time.perf_counter() - setup_started
        watchdog = load_function(
            "watchdog",
            None,
            CALLBACK_TABLE_NAME=TABLE_NAME,
            RUNPOD_API_KEY_SECRET_ARN=secret["ARN"],
            RUNPOD_API_BASE_URL=api,
        )
        quiet(watchdog)
        context = LocalLambdaContext(remaining_time_ms=WATCHDOG_TIMEOUT_S * 1000)
        with measured() as run_cost:
            if tasks is not None:
                with answered_by(watchdog.stepfunctions, tasks):
                    summary = watchdog.lambda_handler({}, context)
            else:
                summary = watchdog.lambda_handler({}, context)
        counts = runpod_counts()
        figures: dict[str, Any] = {
            "n": count,
            "step_functions": "real moto executions" if real else "simulated waiting tasks",
            "latency": latency.label(),
            "setup_s": setup_s,
            "summary": summary,
            "wall_s": run_cost.wall_s,
            "cpu_s": run_cost.cpu_s,
            "peak_growth_kib": run_cost.peak_growth_kib,
            "runpod": counts,
            "cancel_requests": counts.pop("cancel_requests"),
            "pending_left": pending_left(dynamodb),
            "expected_heartbeats": sum(not finished(i) for i in range(count)),
            "expected_recovered": sum(finished(i) for i in range(count)),
        }
        if real:
            figures["executions"] = dict(execution_statuses(stepfunctions, arns))
        if tasks is not None:
            figures["simulated"] = {
                "heartbeated_once": sum(t.heartbeats == 1 for t in tasks.tasks.values()),
                "outcomes": dict(Counter(o for t in tasks.tasks.values() for o in t.outcomes)),
                "more_than_one_outcome": sum(len(t.outcomes) > 1 for t in tasks.tasks.values()),
                "throttled": tasks.throttled,
                "refused": tasks.refused,
            }
        return figures


if __name__ == "__main__":
    sized_part_main(run)
