"""What operators see: logs without secrets, one EMF metric per outcome, loud misconfiguration."""

import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from typing import Any

import pytest

from localdev.lambda_context import LocalLambdaContext
from localdev.local_webhook import LocalWebhook, webhook_event
from localdev.runtime import LAMBDA_SOURCE
from runpod_callbacks import watchdog_run
from runpod_callbacks.metric_names import Metric
from tests.e2e.conftest import (
    ENDPOINT_ID,
    RunPodWorld,
    body,
    let_records_go_stale,
    move_watchdog_clock,
)
from tests.terraform.tf_tools import REPO


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
    webhook_function: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CALLBACK_TABLE_NAME")

    with pytest.raises(RuntimeError, match="CALLBACK_TABLE_NAME"):
        webhook_function.lambda_handler(
            webhook_event("tok-1", json.dumps(body("completed.json"))), LocalLambdaContext()
        )


@pytest.mark.parametrize("module", ["webhook", "submit"])
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


PRICE = "0.00031"  # US dollars a second on ENDPOINT_ID
LOGS_TF = REPO / "logs.tf"
# Logs Insights words a query may use besides the keys our lines carry.
INSIGHTS_WORDS = {
    "fields", "filter", "sort", "stats", "limit", "by", "as", "asc", "desc", "in", "or", "and",
    "not", "count", "ispresent", "level", "message", "service",
}  # fmt: skip


def log_lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith('{"level"')]


def emf_documents(stdout: str, metric: str) -> list[dict[str, Any]]:
    return [
        document
        for document in (json.loads(line) for line in stdout.splitlines() if '"_aws"' in line)
        if metric in document
    ]


@pytest.fixture
def priced_world(world_with_stale_records: RunPodWorld, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("GPU_PRICE_PER_SECOND", json.dumps({ENDPOINT_ID: float(PRICE)}))
    return world_with_stale_records


def test_one_jobs_lines_carry_its_ids_and_each_function_says_how_it_ended(
    priced_world: RunPodWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    job, job_id = priced_world.run_job()
    priced_world.runpod.wait_for_webhooks()
    lines = [line for line in log_lines(capsys.readouterr().out) if line.get("job_id") == job_id]

    assert {line["callback"] for line in lines} == {f"{job.callback_token[:4]}…"}
    assert {line.get("endpoint_id") for line in lines if "outcome" in line} == {ENDPOINT_ID}
    outcomes = [line["outcome"] for line in lines if "outcome" in line]
    assert outcomes == ["SubmitAccepted", "TaskSucceeded"]
    (sent,) = [line for line in lines if line.get("outcome") == "TaskSucceeded"]
    assert (sent["runpod_execution_ms"], sent["runpod_delay_ms"]) == (20417.0, 412.0)


def test_a_refused_webhook_is_logged_with_its_jobs_keys(
    local_webhook: LocalWebhook, capsys: pytest.CaptureFixture[str]
) -> None:
    """A refusal ends the job's handling too: the one-job query finds it by the redacted token."""
    from runpod_callbacks.callback_records import CallbackRecords
    from runpod_callbacks.record_table import RecordTable

    job = local_webhook.start_job()
    table = RecordTable(local_webhook.dynamodb, local_webhook.table_name)
    CallbackRecords(table).claim(job.callback_token, "runpod-job-123")
    capsys.readouterr()

    local_webhook.deliver(job.callback_token, body("completed.json"))  # in flight: 409
    local_webhook.deliver("nobody-home", body("completed.json"))  # unknown token: 404

    refusals = [
        line
        for line in log_lines(capsys.readouterr().out)
        if line["message"].startswith("Webhook refused")
    ]
    assert [(line["outcome"], line["callback"]) for line in refusals] == [
        ("DeliveryInFlight", f"{job.callback_token[:4]}…"),
        ("UnknownCallback", "no…"),
    ]
    assert {line["job_id"] for line in refusals} == {body("completed.json")["id"]}


def test_each_job_is_priced_by_its_endpoints_gpu_second(
    priced_world: RunPodWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    """Webhook and watchdog alike: RunPod's execution time (20,417 ms) times the price."""
    expected = (Decimal("20.417") * Decimal(PRICE)).quantize(Decimal("0.000001"))
    job, _ = priced_world.run_job()
    priced_world.runpod.wait_for_webhooks()
    priced_world.runpod.webhooks_lost = True
    lost, _ = priced_world.run_job()
    priced_world.runpod.wait_for_webhooks()
    let_records_go_stale()
    assert priced_world.run_watchdog()["recovered"] == 1
    stdout = capsys.readouterr().out

    for settled in (job, lost):
        record = priced_world.local.record(settled.callback_token)
        assert record is not None
        assert Decimal(str(record["result"]["estimated_cost_usd"])) == expected
    sent = [line for line in log_lines(stdout) if line.get("outcome") == "TaskSucceeded"]
    assert [Decimal(str(line["estimated_cost_usd"])) for line in sent] == [expected] * 2
    costs = emf_documents(stdout, "EstimatedGpuCost")
    assert [(d["endpoint_id"], Decimal(str(d["EstimatedGpuCost"][0]))) for d in costs] == [
        (ENDPOINT_ID, expected)
    ] * 2
    for document in costs:
        (dimensions,) = document["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
        assert set(dimensions) == {"service", "endpoint_id"}


def test_without_a_price_no_cost_is_claimed(
    world_with_stale_records: RunPodWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    job, _ = world_with_stale_records.run_job()
    world_with_stale_records.runpod.wait_for_webhooks()
    stdout = capsys.readouterr().out

    record = world_with_stale_records.local.record(job.callback_token)
    assert record is not None
    assert "estimated_cost_usd" not in record["result"]
    assert "EstimatedGpuCost" not in emitted_metrics(stdout)


def test_watchdog_reports_how_long_the_oldest_job_has_waited(
    world_with_stale_records: RunPodWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    world = world_with_stale_records
    world.runpod.jobs_run_until_cancelled = True
    world.run_job()
    let_records_go_stale()
    move_watchdog_clock(seconds=3600)
    capsys.readouterr()

    world.run_watchdog()

    (document,) = emf_documents(capsys.readouterr().out, "OldestWaitSeconds")
    assert 3600 < document["OldestWaitSeconds"][0] < 3600 + 60


def test_saved_queries_use_only_keys_the_functions_log(
    priced_world: RunPodWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each saved query of logs.tf names keys (and outcomes) that the lines of a success, a
    failure, a lost webhook and a watchdog run really carry: a renamed key would leave a query
    silently empty."""
    priced_world.run_job()
    priced_world.run_job({"fail_with": "CUDA out of memory"})
    priced_world.runpod.wait_for_webhooks()
    priced_world.runpod.webhooks_lost = True
    priced_world.run_job()
    priced_world.runpod.wait_for_webhooks()
    let_records_go_stale()
    priced_world.run_watchdog()
    lines = log_lines(capsys.readouterr().out)
    keys = {key for line in lines for key in line}
    outcomes = {str(line["outcome"]) for line in lines if "outcome" in line}
    possible_outcomes = {str(m) for m in Metric} | {s.value for s in watchdog_run.Settled}

    queries = re.findall(r"query = <<-EOT\n(.*?)\n\s*EOT", LOGS_TF.read_text(), re.S)
    assert len(queries) == 3
    for query in queries:
        text = re.sub(r'"[^"]*"', " ", query)  # quoted values are checked below
        aliases = set(re.findall(r"\bas (\w+)", text))
        names = set(re.findall(r"(?<![@\w])[a-z_]+(?![\w(])", text)) - INSIGHTS_WORDS - aliases
        assert names <= keys, query
        quoted = set(re.findall(r'"([^"]*)"', query)) - {"JOB_ID", "WARNING", "ERROR"}
        assert quoted <= possible_outcomes, query
    assert {"TaskSucceeded", "TaskFailed", "recovered", "SubmitAccepted"} <= outcomes
