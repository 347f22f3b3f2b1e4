"""What operators see: logs without secrets, one EMF metric per outcome, loud misconfiguration."""

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from localdev.lambda_context import LocalLambdaContext
from localdev.local_webhook import LocalWebhook, webhook_event
from localdev.runtime import LAMBDA_SOURCE
from tests.e2e.conftest import body


def emitted_metrics(stdout: str) -> list[str]:
    names = []
    for line in stdout.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            document = json.loads(line)
            for directive in document["_aws"]["CloudWatchMetrics"]:
                names.extend(metric["Name"] for metric in directive["Metrics"])
    return names


def log_messages(stdout: str) -> str:
    lines = (json.loads(line) for line in stdout.splitlines() if line.startswith("{"))
    return "\n".join(line["message"] for line in lines if "message" in line)


def test_logs_never_show_the_task_token_or_the_whole_callback_token(
    local_webhook: LocalWebhook, capsys: pytest.CaptureFixture[str]
) -> None:
    job = local_webhook.start_job()
    record = local_webhook.record(job.callback_token)
    assert record is not None
    echoed_by_runpod = {
        **body("completed.json"),
        "webhook": f"https://example.com/v1/webhook/{job.callback_token}",
        "input": {"callback_token": job.callback_token},
    }

    local_webhook.deliver(job.callback_token, echoed_by_runpod)
    local_webhook.deliver(job.callback_token, echoed_by_runpod)
    local_webhook.deliver("unknown-token-1234", body("completed.json"))
    stdout = capsys.readouterr().out
    logs = log_messages(stdout)

    assert record["task_token"] not in stdout
    assert job.callback_token not in stdout
    assert "unknown-token-1234" not in stdout
    assert f"for callback {job.callback_token[:4]}…" in logs
    assert "Processing RunPod job runpod-job-123 with status COMPLETED" in logs
    assert "Sent TaskSuccess for job runpod-job-123" in logs
    assert "already completed, returning success" in logs
    assert "Callback token unkn… not found in DynamoDB" in logs


def test_failure_and_expiry_log_the_seeds_messages(
    local_webhook: LocalWebhook, capsys: pytest.CaptureFixture[str]
) -> None:
    failing = local_webhook.start_job()
    expiring = local_webhook.start_job(impatient=True)
    local_webhook.execution(expiring)

    local_webhook.deliver(failing.callback_token, body("failed.json"))
    local_webhook.deliver(expiring.callback_token, body("completed.json"))
    logs = log_messages(capsys.readouterr().out)

    # The seed's wording: {error} is RunPod's message (the error name may follow it).
    assert "Sent TaskFailure for job runpod-job-123: CUDA out of memory" in logs
    assert f"Task token expired for callback {expiring.callback_token[:4]}…" in logs


@pytest.mark.parametrize(
    ("deliveries", "metric"),
    [
        ([body("completed.json")], "TaskSucceeded"),
        ([body("failed.json")], "TaskFailed"),
        ([body("completed.json"), body("completed.json")], "DuplicateDelivery"),
        (["{not json"], "InvalidWebhook"),
        ([body("completed.json", id="other")], "JobIdMismatch"),
    ],
)
def test_each_outcome_emits_its_metric(
    local_webhook: LocalWebhook,
    capsys: pytest.CaptureFixture[str],
    deliveries: list[Any],
    metric: str,
) -> None:
    job = local_webhook.start_job()
    for delivery in deliveries[:-1]:
        local_webhook.deliver(job.callback_token, delivery)
    capsys.readouterr()

    local_webhook.deliver(job.callback_token, deliveries[-1])

    assert metric in emitted_metrics(capsys.readouterr().out)


def test_runpod_timings_are_emitted_as_metrics(
    local_webhook: LocalWebhook, capsys: pytest.CaptureFixture[str]
) -> None:
    job = local_webhook.start_job()

    local_webhook.deliver(job.callback_token, body("completed.json"))
    stdout = capsys.readouterr().out

    metrics = emitted_metrics(stdout)
    assert {"TaskSucceeded", "RunPodDelayTime", "RunPodExecutionTime"} <= set(metrics)
    emf = next(json.loads(line) for line in stdout.splitlines() if '"RunPodDelayTime"' in line)
    assert emf["RunPodDelayTime"] == [1523.0]


def test_unknown_token_emits_not_found_metric(
    local_webhook: LocalWebhook, capsys: pytest.CaptureFixture[str]
) -> None:
    local_webhook.deliver("nobody-home", body("completed.json"))

    assert emitted_metrics(capsys.readouterr().out) == ["UnknownCallback"]


def test_missing_table_name_fails_the_invocation_naming_the_variable(
    handler: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CALLBACK_TABLE_NAME")

    with pytest.raises(RuntimeError, match="CALLBACK_TABLE_NAME"):
        handler.lambda_handler(
            webhook_event("tok-1", json.dumps(body("completed.json"))), LocalLambdaContext()
        )


@pytest.mark.parametrize("module", ["handler", "submit"])
def test_missing_setting_fails_the_cold_start_naming_it(module: str) -> None:
    environment = {k: v for k, v in os.environ.items() if k != "CALLBACK_TABLE_NAME"}

    cold_start = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        cwd=LAMBDA_SOURCE,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )

    assert cold_start.returncode != 0
    assert "CALLBACK_TABLE_NAME" in cold_start.stderr
