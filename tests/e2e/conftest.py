"""End-to-end fixtures: moto as AWS (state machines really run), the real functions run on it."""

import contextlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest

from localdev import aws_setup
from localdev.fake_runpod import FakeRunPod, serve_fake_runpod
from localdev.lambda_context import SUBMIT_TIMEOUT_MS, WATCHDOG_TIMEOUT_MS, LocalLambdaContext
from localdev.local_aws import in_process_aws
from localdev.local_webhook import Job, LocalWebhook
from localdev.webhook_server import serve_webhook
from runpod_callbacks import callback_records, watchdog_run
from tests.e2e.aws_faults import AwsFaults

EVENTS = Path(__file__).parent.parent / "events"


def load_event(name: str) -> Any:
    return json.loads((EVENTS / name).read_text())


class _CurrentStdout:
    """Whatever sys.stdout is at the moment of writing, so capsys sees the handler's log lines."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def webhook_function() -> Any:
    import webhook

    webhook.logger.registered_handler.setStream(_CurrentStdout())
    return webhook


@pytest.fixture
def local_webhook(webhook_function: Any) -> Iterator[LocalWebhook]:
    with in_process_aws():
        yield LocalWebhook(webhook_function)


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
        (request,) = self._successes()
        return json.loads(request["output"], parse_float=Decimal)

    def output_of(self, index: int) -> Any:
        """The task output of the given SendTaskSuccess call (0: the first)."""
        return json.loads(self._successes()[index]["output"], parse_float=Decimal)

    def _successes(self) -> list[dict[str, Any]]:
        return [r for name, r in zip(self, self.requests, strict=True) if name == "SendTaskSuccess"]

    def failure(self) -> dict[str, Any]:
        """The parameters of the last SendTaskFailure (moto does not keep the cause)."""
        return [
            r for name, r in zip(self, self.requests, strict=True) if name == "SendTaskFailure"
        ][-1]


@contextlib.contextmanager
def sends_of(stepfunctions: Any) -> Iterator[SentTasks]:
    """The SendTask* calls made through this client, in order, seen at it: once per API call
    (step_functions.resume_task makes a second call when the first failed transiently)."""
    sent = SentTasks()
    events = stepfunctions.meta.events
    for operation in ("SendTaskSuccess", "SendTaskFailure"):
        events.register(f"before-parameter-build.sfn.{operation}", sent.record)
    try:
        yield sent
    finally:
        for operation in ("SendTaskSuccess", "SendTaskFailure"):
            events.unregister(f"before-parameter-build.sfn.{operation}", sent.record)


@pytest.fixture
def sent_tasks(webhook_function: Any) -> Iterator[SentTasks]:
    """The SendTask* calls the webhook function makes."""
    with sends_of(webhook_function.stepfunctions) as sent:
        yield sent


@pytest.fixture
def faults(webhook_function: Any) -> Iterator[AwsFaults]:
    """Faults injected on the webhook function's HTTP tries to DynamoDB and Step Functions."""
    injected = AwsFaults(webhook_function.dynamodb, webhook_function.stepfunctions)
    yield injected
    injected.clear()


def let_leases_run_out(monkeypatch: pytest.MonkeyPatch) -> None:
    later = callback_records.epoch_ms() + callback_records.LEASE_MS + 1_000
    monkeypatch.setattr(callback_records, "epoch_ms", lambda: later)


def body(name: str, **overrides: Any) -> dict[str, Any]:
    """A RunPod webhook body from tests/events, with fields replaced."""
    return {**load_event(name), **overrides}


def response_json(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


@pytest.fixture
def live_job(local_webhook: LocalWebhook) -> Job:
    """An execution waiting for job runpod-job-123."""
    return local_webhook.start_job(job_id="runpod-job-123")


API_KEY = "rp_TESTKEY_0123456789abcdef"
ENDPOINT_ID = "upscaler-v2"


@dataclass
class RunPodWorld:
    """The whole system: a state machine whose Task invokes the submit function, a fake RunPod
    on loopback, the webhook behind a loopback HTTP server, the watchdog and the canceller."""

    local: LocalWebhook
    submit: Any
    watchdog: Any
    canceller: Any
    runpod: FakeRunPod
    state_machine_arn: str

    def start(self, job_input: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        """Start an execution; returns it and the payload Step Functions gave the function."""
        execution = aws_setup.start_submitting_execution(
            self.local.stepfunctions,
            self.state_machine_arn,
            endpoint_id=ENDPOINT_ID,
            job_input=job_input or {"segment": "s3://videos/seg_0001.mp4"},
            segment_filename="seg_0001.mp4",
        )
        return execution, aws_setup.scheduled_lambda_payload(self.local.stepfunctions, execution)

    def invoke(self, payload: dict[str, Any]) -> dict[str, Any]:
        context = LocalLambdaContext(remaining_time_ms=SUBMIT_TIMEOUT_MS)
        result: dict[str, Any] = self.submit.lambda_handler(payload, context)
        return result

    def run_job(self, job_input: dict[str, Any] | None = None) -> tuple[Job, str]:
        """Start an execution and submit its job; returns the job and RunPod's job id."""
        execution, payload = self.start(job_input)
        job_id = str(self.invoke(payload)["job_id"])
        return Job(execution, self.webhook_token()), job_id

    def run_watchdog(self, remaining_time_ms: int = WATCHDOG_TIMEOUT_MS) -> dict[str, int]:
        context = LocalLambdaContext(remaining_time_ms=remaining_time_ms)
        summary: dict[str, int] = self.watchdog.lambda_handler({}, context)
        return summary

    def stopped(self, job: Job) -> dict[str, Any]:
        """What EventBridge hands the canceller once the job's execution was stopped."""
        execution = self.local.stepfunctions.describe_execution(executionArn=job.execution_arn)
        event = aws_setup.status_change_event(execution, "ABORTED")
        answer: dict[str, Any] = self.canceller.lambda_handler(event, LocalLambdaContext())
        return answer

    def webhook_token(self) -> str:
        return str(self.runpod.runs[-1].body["webhook"]).rsplit("/", 1)[-1]


@pytest.fixture
def world(local_webhook: LocalWebhook, monkeypatch: pytest.MonkeyPatch) -> Iterator[RunPodWorld]:
    import canceller
    import submit
    import watchdog

    local = local_webhook
    secret = boto3.client("secretsmanager").create_secret(
        Name="runpod-api-key", SecretString=API_KEY
    )
    for function in (submit, watchdog, canceller):
        function.logger.registered_handler.setStream(_CurrentStdout())
    runpod = FakeRunPod(retry_interval_s=0.05, job_delay_s=0.05)
    function_arn = aws_setup.create_function(
        boto3.client("iam"), boto3.client("lambda"), "test-runpod-submit", "submit"
    )
    machine = aws_setup.create_state_machine(
        local.stepfunctions, "runpod-submit-job", aws_setup.submitting_task_definition(function_arn)
    )
    with serve_webhook(local.function.lambda_handler) as webhook, serve_fake_runpod(runpod) as api:
        monkeypatch.setenv("WEBHOOK_BASE_URL", f"{webhook}/webhook")
        monkeypatch.setenv("RUNPOD_API_BASE_URL", api)
        monkeypatch.setenv("RUNPOD_API_KEY_SECRET_ARN", secret["ARN"])
        yield RunPodWorld(local, submit, watchdog, canceller, runpod, machine)


_watchdog_clock_ahead = [timedelta(0)]


@pytest.fixture
def world_with_stale_records(world: RunPodWorld, monkeypatch: pytest.MonkeyPatch) -> RunPodWorld:
    """Records count as stale one second after they were written (60 s by default), on the
    watchdog's clock, which let_records_go_stale moves on."""
    monkeypatch.setenv("STALE_AFTER_SECONDS", "1")
    _watchdog_clock_ahead[0] = timedelta(0)
    monkeypatch.setattr(
        watchdog_run, "utc_now", lambda: datetime.now(UTC) + _watchdog_clock_ahead[0]
    )
    return world


def let_records_go_stale() -> None:
    """Move the watchdog's clock past the 1 s threshold, even for a created_at written in whole
    seconds (which compares as text after every time within its second)."""
    move_watchdog_clock(seconds=2.1)


def move_watchdog_clock(seconds: float) -> None:
    _watchdog_clock_ahead[0] += timedelta(seconds=seconds)


@pytest.fixture
def watchdog_sends(world: RunPodWorld) -> Iterator[SentTasks]:
    """The SendTask* calls the watchdog makes, with their parameters."""
    with sends_of(world.watchdog.stepfunctions) as sent:
        yield sent


def stop(local: LocalWebhook, job: Job) -> None:
    """Stop the execution as a user would, while its job runs."""
    record = local.record(job.callback_token)
    assert record is not None
    aws_setup.stop_waiting_execution(local.stepfunctions, job.execution_arn, record["task_token"])
