"""Worst cases an adversarial review found: one fault at the worst moment, or one odd input.

Each test once showed an invariant of the design broken: a 5xx on a problem that recurs, a send
repeated after it succeeded, an expiry hidden or a job never cancelled because a claim that sent
nothing counted as a delivery, a record out of the watchdog's reach, a secret in a log line."""

import json
import os
from typing import Any

import boto3
import pytest

from localdev.local_webhook import Job, LocalWebhook
from runpod_callbacks import large_outputs
from runpod_callbacks.errors import SubmitError
from runpod_callbacks.submission import callback_token_for
from tests.e2e.aws_faults import PROCESSED_THEN_TIMED_OUT, THROTTLED, AwsFaults, refused
from tests.e2e.conftest import (
    RunPodWorld,
    SentTasks,
    body,
    let_leases_run_out,
    let_records_go_stale,
    response_json,
    stop,
)


def test_claim_that_took_effect_but_failed_does_not_hide_a_later_expiry(
    local_webhook: LocalWebhook,
    faults: AwsFaults,
    sent_tasks: SentTasks,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One call fails: the claim's UpdateItem is carried out, its answer lost, botocore's retry
    throttled. Nothing was ever sent to Step Functions. The task then times out: RunPod's retry
    must learn the task is gone (410, EXPIRED), not be told the task was resumed."""
    job = local_webhook.start_job(impatient=True)
    faults.fail("UpdateItem", PROCESSED_THEN_TIMED_OUT, tries={1})
    faults.fail("UpdateItem", THROTTLED, tries={2})

    faulty = local_webhook.deliver(job.callback_token, body("completed.json"))
    faults.clear()
    assert sent_tasks == []
    local_webhook.execution(job)  # the task times out meanwhile
    let_leases_run_out(monkeypatch)  # RunPod retries 10 s later
    retried = local_webhook.deliver(job.callback_token, body("completed.json"))

    assert faulty["statusCode"] == 503
    assert retried["statusCode"] == 410, response_json(retried)
    record = local_webhook.record(job.callback_token)
    assert record is not None
    assert record["status"] == "EXPIRED"


def test_expire_whose_claim_took_effect_but_failed_still_cancels_the_orphan_next_run(
    world_with_stale_records: RunPodWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One call fails: the expire path's claim (UpdateItem) is carried out, its answer lost,
    botocore's retry throttled. The next run must still cancel the job nobody waits for and mark
    the record EXPIRED; the claim's lease id once stayed in maybe_delivered_by and every later run
    skipped the record: the GPU job was never cancelled."""
    world = world_with_stale_records
    world.runpod.jobs_run_until_cancelled = True
    job, job_id = world.run_job()
    stop(world.local, job)
    let_records_go_stale()
    faults = AwsFaults(world.watchdog.dynamodb, world.watchdog.stepfunctions)
    faults.fail("UpdateItem", PROCESSED_THEN_TIMED_OUT, tries={1})
    faults.fail("UpdateItem", THROTTLED, tries={2})
    try:
        first = world.run_watchdog()
    finally:
        faults.clear()
    let_leases_run_out(monkeypatch)  # the next scheduled run comes minutes later

    later = [world.run_watchdog() for _ in range(2)]

    assert first["errors"] == 1
    assert world.runpod.cancel_requests == [job_id], later
    record = world.local.record(job.callback_token)
    assert record is not None
    assert record["status"] == "EXPIRED"


@pytest.mark.parametrize("number", ["1e99999999999999999999", "-2.5E-99999999999999999999"])
def test_number_with_an_exponent_decimal_cannot_hold_is_never_a_5xx(
    local_webhook: LocalWebhook, sent_tasks: SentTasks, number: str
) -> None:
    """Valid JSON (the json module takes it) that Decimal refuses with InvalidOperation: it once
    answered 500 on every retry. Every number reaches the task exactly, as written."""
    job = local_webhook.start_job()
    text = (
        '{"id":"runpod-job-123","status":"COMPLETED","output":{"x":' + number + "},"
        '"delayTime":1,"executionTime":2}'
    )

    response = local_webhook.deliver(job.callback_token, text)

    assert response["statusCode"] == 200, response_json(response)
    assert sent_tasks == ["SendTaskSuccess"]
    assert '"output":{"x":' + number + "}" in sent_tasks.requests[0]["output"]


def test_record_with_an_empty_task_token_is_never_a_5xx(
    local_webhook: LocalWebhook, sent_tasks: SentTasks
) -> None:
    """An own submitter's record whose task_token is an empty string: botocore refuses the
    SendTask* call before sending (ParamValidationError), which once counted as "may have reached
    AWS", 503 on every retry. A problem of the record is a 4xx (CorruptRecord) or final."""
    token = "empty-task-token-record"
    local_webhook.dynamodb.put_item(
        TableName=local_webhook.table_name,
        Item={
            "callback_token": {"S": token},
            "task_token": {"S": ""},
            "job_id": {"S": "runpod-job-123"},
            "status": {"S": "PENDING"},
            "created_at": {"S": "2026-01-06T12:00:00Z"},
        },
    )

    answers = [local_webhook.deliver(token, body("completed.json"))["statusCode"] for _ in range(3)]

    assert all(answer < 500 for answer in answers), answers


def test_send_that_succeeded_is_not_sent_again_after_a_finalize_failure(
    local_webhook: LocalWebhook, faults: AwsFaults, sent_tasks: SentTasks
) -> None:
    """One call fails: the finalize (UpdateItem tries 3 and 4) after a SendTaskSuccess that
    succeeded. A delivery whose Step Functions call surely succeeded is never re-sent: RunPod's
    retry only records it (it once sent SendTaskSuccess again)."""
    job = local_webhook.start_job()
    faults.fail("UpdateItem", THROTTLED, tries={3, 4})

    faulty = local_webhook.deliver(job.callback_token, body("completed.json"))
    faults.clear()
    retried = local_webhook.deliver(job.callback_token, body("completed.json"))

    assert (faulty["statusCode"], retried["statusCode"]) == (503, 200)
    assert local_webhook.execution(job)["status"] == "SUCCEEDED"
    assert sent_tasks == ["SendTaskSuccess"]


def test_record_keeps_the_outcome_that_was_delivered_not_the_retrys(
    local_webhook: LocalWebhook, faults: AwsFaults, sent_tasks: SentTasks
) -> None:
    """One call fails: the finalize after the InvalidOutput fallback (SendTaskFailure) succeeded.
    RunPod's retry finds the token used (AWS answers TaskTimedOut; moto would accept a second
    SendTaskFailure, so AWS's answer is injected). The record and the answer say what the task
    got, RunPod.InvalidOutput (the retry once recorded its own first choice, COMPLETED)."""
    job = local_webhook.start_job()
    faults.fail("SendTaskSuccess", refused("InvalidOutput"))  # deterministic: every delivery
    # The first delivery's finalize: after the claim and a mark for each of its two sends.
    faults.fail("UpdateItem", THROTTLED, tries={4, 5})

    faulty = local_webhook.deliver(job.callback_token, body("completed.json"))
    assert local_webhook.execution_error(job) == "RunPod.InvalidOutput"
    faults.fail("SendTaskFailure", refused("TaskTimedOut"))  # AWS: the token was used
    retried = local_webhook.deliver(job.callback_token, body("completed.json"))

    assert faulty["statusCode"] == 503
    assert response_json(retried) == {
        "status": "FAILED",
        "message": "task failed with RunPod.InvalidOutput",
    }
    record = local_webhook.record(job.callback_token)
    assert record is not None
    assert record["status"] == "FAILED"
    assert record["result"]["step_functions_error"] == "RunPod.InvalidOutput"


def test_records_past_the_per_run_bound_are_reached_by_later_runs(
    world_with_stale_records: RunPodWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """More long-running jobs than MAX_RECORDS_PER_RUN: were every run to take the same oldest
    records (they stay PENDING while heartbeated), the newer ones would never be asked about,
    never heartbeated (their Task's HeartbeatSeconds runs out), never recovered. Each run takes
    its full share, going on from where the last one stopped and around to the oldest."""
    world = world_with_stale_records
    world.runpod.jobs_run_until_cancelled = True
    job_ids = [world.run_job()[1] for _ in range(3)]
    let_records_go_stale()
    monkeypatch.setenv("MAX_RECORDS_PER_RUN", "2")

    runs = [world.run_watchdog() for _ in range(3)]

    assert [run["heartbeats"] for run in runs] == [2, 2, 2]
    assert [run["behind"] for run in runs] == [1, 1, 1]
    asked = world.runpod.status_requests  # in created order: job_ids[0] is the oldest
    first, second, third = job_ids
    assert [set(asked[run : run + 2]) for run in (0, 2, 4)] == [
        {first, second},
        {third, first},  # on from where the first run stopped, then around to the oldest
        {second, third},
    ]


class ProcessDied(BaseException):
    """The Lambda instance dies (timeout, out of memory) at the moment of a call."""


def process_dies(request: Any) -> Any:
    raise ProcessDied


def test_watchdog_dying_between_cancel_and_finalize_still_leaves_the_record_expired(
    world_with_stale_records: RunPodWorld,
    watchdog_sends: SentTasks,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The process dies after RunPod's /cancel and before the EXPIRED write. The next run finds
    the job CANCELLED; as nobody waits for its task, the record should end EXPIRED. The expire's
    own claim once counted as "may have resumed the task", so the next run reported the task as
    resumed by it: RecoveredByWatchdog (the lost-webhook alarm) and a FAILED record."""
    world = world_with_stale_records
    world.runpod.jobs_run_until_cancelled = True
    job, job_id = world.run_job()
    stop(world.local, job)
    let_records_go_stale()
    faults = AwsFaults(world.watchdog.dynamodb, world.watchdog.stepfunctions)
    faults.fail("UpdateItem", process_dies, tries={2})  # 1: the claim, 2: the finalize
    try:
        with pytest.raises(ProcessDied):
            world.run_watchdog()
    finally:
        faults.clear()
    assert world.runpod.cancel_requests == [job_id]
    let_leases_run_out(monkeypatch)  # the next run comes minutes later
    # AWS answers TaskTimedOut for the stopped execution's token (moto would accept the call).
    faults.fail("SendTaskFailure", refused("TaskTimedOut"))
    try:
        summary = world.run_watchdog()
    finally:
        faults.clear()

    assert summary["recovered"] == 0, summary
    record = world.local.record(job.callback_token)
    assert record is not None
    assert record["status"] == "EXPIRED"


def test_binary_secret_is_a_typed_submit_failure(world: RunPodWorld) -> None:
    """A secret stored as SecretBinary (no SecretString) is a typed failure that fails the task
    (it once escaped as a bare KeyError)."""
    boto3.client("secretsmanager").put_secret_value(
        SecretId="runpod-api-key", SecretBinary=b"rp_TESTKEY_0123456789abcdef"
    )
    execution, payload = world.start()

    with pytest.raises(SubmitError) as raised:
        world.invoke(payload)

    assert type(raised.value).__name__ == "RunPod.SubmitFailed"
    assert world.runpod.runs == []
    job = Job(execution, "")
    assert world.local.execution_error(job) == "RunPod.SubmitFailed"


def test_callback_token_runpod_echoes_in_a_refusal_is_logged_only_redacted(
    world: RunPodWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    """RunPod refuses the job with a message that quotes the webhook URL it was given (so the
    callback token, the webhook's bearer secret): the token is logged only redacted."""
    _, payload = world.start()
    token = callback_token_for(payload["task_token"])
    url = f"{os.environ['WEBHOOK_BASE_URL']}/{token}"
    world.runpod.answers.append((400, {"error": f"webhook {url} is not reachable"}))
    capsys.readouterr()

    with pytest.raises(SubmitError, match="not reachable"):
        world.invoke(payload)
    logs = capsys.readouterr().out

    assert "Submission failed" in logs
    assert token not in logs


def test_record_lifetime_dynamodb_cannot_hold_is_an_invalid_request(world: RunPodWorld) -> None:
    """A lifetime whose ttl DynamoDB cannot hold is an invalid request (it once passed the
    parser and escaped the function as a bare ValueError)."""
    _, payload = world.start()

    with pytest.raises(SubmitError) as raised:
        world.invoke({**payload, "record_lifetime_s": 10**130})

    assert type(raised.value).__name__ == "RunPod.InvalidRequest"
    assert world.runpod.runs == []


def test_404_from_an_endpoint_runpod_does_not_know_is_no_lost_job(
    world_with_stale_records: RunPodWorld, watchdog_sends: SentTasks
) -> None:
    """A wrong endpoint id (or base URL) answers 404 for every job: that must not fail every
    waiting task as RunPod.JobLost. The endpoint's own /health tells the two apart."""
    world = world_with_stale_records
    world.runpod.jobs_run_until_cancelled = True
    job, _ = world.run_job()
    world.runpod.unknown_endpoints.add("upscaler-v2")
    let_records_go_stale()

    summary = world.run_watchdog()

    assert (summary["lost"], summary["errors"]) == (0, 1)
    assert watchdog_sends == []
    assert world.local.status_now(job) == "RUNNING"


def test_runpod_redirect_is_refused_and_never_followed_with_the_key(world: RunPodWorld) -> None:
    """urllib would follow a redirect to any host with the Authorization header."""
    world.runpod.answers.append(
        b"HTTP/1.1 301 Moved Permanently\r\nLocation: http://127.0.0.1:9/elsewhere\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    _, payload = world.start()

    with pytest.raises(SubmitError, match="301") as raised:
        world.invoke(payload)

    assert type(raised.value).__name__ == "RunPod.SubmitRejected"
    assert len(world.runpod.runs) == 1


def test_delivery_that_died_before_its_send_is_later_reported_expired(
    local_webhook: LocalWebhook,
    sent_tasks: SentTasks,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The process dies after the claim, while it writes the result to S3: nothing was sent.
    The task then times out: RunPod's retry must learn the task is gone (410, EXPIRED). The
    claim once marked the record "may have reached Step Functions" ahead of the send, and the
    retry answered 200 "task resumed" with the record COMPLETED, though nothing was sent."""
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="runpod-results-died")
    monkeypatch.setenv("LARGE_OUTPUT_BUCKET", "runpod-results-died")
    large_outputs._store.cache_clear()
    job = local_webhook.start_job(impatient=True)
    raw = json.dumps({"id": "runpod-job-123", "status": "COMPLETED", "output": "x" * 300_000})
    dies = AwsFaults(large_outputs._store("runpod-results-died", "runpod-results/")._s3)
    dies.fail("PutObject", process_dies)
    try:
        with pytest.raises(ProcessDied):
            local_webhook.deliver(job.callback_token, raw)
    finally:
        dies.clear()
        large_outputs._store.cache_clear()
    assert sent_tasks == []
    local_webhook.execution(job)  # the task times out meanwhile
    let_leases_run_out(monkeypatch)  # RunPod retries 10 s later

    retried = local_webhook.deliver(job.callback_token, raw)

    assert retried["statusCode"] == 410, response_json(retried)
    record = local_webhook.record(job.callback_token)
    assert record is not None
    assert record["status"] == "EXPIRED"
