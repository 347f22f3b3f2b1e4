"""Results over Step Functions' 256 KiB go to S3 instead of being thrown away (claim check)."""

import base64
import hashlib
import json
import os
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest

from localdev.local_webhook import LocalWebhook
from runpod_callbacks import callback_records, large_outputs
from tests.e2e.aws_faults import PROCESSED_THEN_TIMED_OUT, AwsFaults, refused
from tests.e2e.conftest import (
    RunPodWorld,
    SentTasks,
    body,
    let_leases_run_out,
    let_records_go_stale,
    response_json,
)

BUCKET = "runpod-results-test"
MEGABYTE_OF_BASE64 = base64.b64encode(os.urandom(768 * 1024)).decode()  # 1 MiB of text


@pytest.fixture
def bucket(local_webhook: LocalWebhook, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The switch on: a bucket (moto) and the environment that names it."""
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("LARGE_OUTPUT_BUCKET", BUCKET)
    yield s3
    large_outputs._store.cache_clear()


def large_body(output_json: str) -> str:
    return f'{{"id": "runpod-job-123", "status": "COMPLETED", "output": {output_json}}}'


def stored_object(s3: Any, pointer: dict[str, Any]) -> tuple[bytes, dict[str, Any]]:
    found = s3.get_object(Bucket=pointer["bucket"], Key=pointer["key"])
    return found["Body"].read(), found


@pytest.mark.parametrize("megabytes", [1, 5])
def test_large_result_reaches_the_task_through_s3_exactly(
    local_webhook: LocalWebhook, bucket: Any, sent_tasks: SentTasks, megabytes: int
) -> None:
    job = local_webhook.start_job()
    output_json = json.dumps(
        {"frames": [MEGABYTE_OF_BASE64] * megabytes, "psnr": 38.71, "big": 12345678901234567.89}
    ).replace("1.2345678901234568e+16", "12345678901234567.89")

    response = local_webhook.deliver(job.callback_token, large_body(output_json))

    assert response["statusCode"] == 200
    execution = local_webhook.execution(job)
    assert execution["status"] == "SUCCEEDED"
    task_output = sent_tasks.output()
    assert "output" not in task_output
    pointer = task_output["output_s3"]
    content, found = stored_object(bucket, pointer)
    assert content == output_json.encode()  # the very bytes RunPod sent
    assert json.loads(content, parse_float=Decimal)["big"] == Decimal("12345678901234567.89")
    assert pointer["size_bytes"] == len(content)
    assert pointer["sha256"] == hashlib.sha256(content).hexdigest()
    assert pointer["uri"] == f"s3://{BUCKET}/{pointer['key']}"
    assert found["ContentType"] == "application/json"
    exec_id = f"exec-{job.callback_token[:8]}"
    # Named by its content: an object a task may point to never changes.
    assert pointer["key"] == f"runpod-results/{exec_id}/runpod-job-123/{pointer['sha256']}.json"
    record = local_webhook.record(job.callback_token)
    assert record is not None
    assert job.callback_token not in pointer["key"]
    assert record["task_token"] not in pointer["key"]
    assert record["status"] == "COMPLETED"
    assert record["result"]["output_s3"] == json.loads(json.dumps(pointer), parse_float=Decimal)
    assert "output" not in record["result"]


def test_redelivery_adds_nothing(
    local_webhook: LocalWebhook, bucket: Any, sent_tasks: SentTasks
) -> None:
    job = local_webhook.start_job()
    raw = large_body(json.dumps({"frames": [MEGABYTE_OF_BASE64]}))

    first = local_webhook.deliver(job.callback_token, raw)
    again = local_webhook.deliver(job.callback_token, raw)

    assert (first["statusCode"], again["statusCode"]) == (200, 200)
    assert response_json(again)["message"] == "already completed"
    assert sent_tasks == ["SendTaskSuccess"]
    assert len(bucket.list_objects_v2(Bucket=BUCKET)["Contents"]) == 1


def test_s3_failing_loses_nothing_and_the_retry_succeeds(
    local_webhook: LocalWebhook, bucket: Any, sent_tasks: SentTasks
) -> None:
    job = local_webhook.start_job()
    raw = large_body(json.dumps({"frames": [MEGABYTE_OF_BASE64]}))
    s3_faults = AwsFaults(large_outputs._store(BUCKET, "runpod-results/")._s3)
    s3_faults.fail("PutObject", refused("ServiceUnavailable", status=503, xml=True))

    try:
        faulty = local_webhook.deliver(job.callback_token, raw)
    finally:
        s3_faults.clear()
    between = local_webhook.record(job.callback_token)
    retried = local_webhook.deliver(job.callback_token, raw)  # RunPod's retry, 10 s later

    assert faulty["statusCode"] == 503
    assert between is not None
    assert between["status"] == "PENDING"
    assert "lease_id" not in between  # released: the retry need not wait for the lease
    assert "maybe_delivered_by" not in between
    assert retried["statusCode"] == 200
    assert sent_tasks == ["SendTaskSuccess"]
    assert local_webhook.execution(job)["status"] == "SUCCEEDED"


def test_without_the_switch_a_large_result_fails_as_too_large(
    local_webhook: LocalWebhook, sent_tasks: SentTasks
) -> None:
    job = local_webhook.start_job()

    response = local_webhook.deliver(
        job.callback_token, large_body(json.dumps({"frames": [MEGABYTE_OF_BASE64]}))
    )

    assert response["statusCode"] == 200
    assert local_webhook.execution_error(job) == "RunPod.OutputTooLarge"
    assert large_outputs._store.cache_info().currsize == 0  # no S3 client was even made


def test_result_that_fits_stays_inline_with_the_switch_on(
    local_webhook: LocalWebhook, bucket: Any, sent_tasks: SentTasks
) -> None:
    job = local_webhook.start_job()

    local_webhook.deliver(job.callback_token, body("completed.json"))

    assert sent_tasks.output()["output"]["message"] == "Video upscaled successfully"
    assert "Contents" not in bucket.list_objects_v2(Bucket=BUCKET)


def test_watchdog_recovers_a_large_result_through_s3(
    world_with_stale_records: RunPodWorld, bucket: Any
) -> None:
    world = world_with_stale_records
    world.runpod.webhooks_lost = True
    job, _ = world.run_job({"frames": [MEGABYTE_OF_BASE64]})
    world.runpod.wait_for_webhooks()
    let_records_go_stale()

    summary = world.run_watchdog()

    assert summary["recovered"] == 1
    execution = world.local.execution(job)
    assert execution["status"] == "SUCCEEDED"
    pointer = json.loads(execution["output"])["output_s3"]
    content, _ = stored_object(bucket, pointer)
    assert json.loads(content) == {"processed": {"frames": [MEGABYTE_OF_BASE64]}}


def test_retry_after_a_send_surely_taken_writes_no_object_again(
    local_webhook: LocalWebhook, bucket: Any, sent_tasks: SentTasks, webhook_function: Any
) -> None:
    """The send succeeded, the record's update failed: the retry records what was sent, and
    neither sends nor rewrites the object the task already has (with its sha256)."""
    job = local_webhook.start_job()
    raw = large_body(json.dumps({"frames": [MEGABYTE_OF_BASE64]}))
    s3 = large_outputs._store(BUCKET, "runpod-results/")._s3
    puts: list[str] = []
    s3.meta.events.register("before-call.s3.PutObject", lambda **_: puts.append("put"))
    record_faults = AwsFaults(webhook_function.dynamodb)
    record_faults.fail("UpdateItem", refused("ThrottlingException"), tries={3, 4})  # finalize

    try:
        faulty = local_webhook.deliver(job.callback_token, raw)
    finally:
        record_faults.clear()
    retried = local_webhook.deliver(job.callback_token, raw)

    assert (faulty["statusCode"], retried["statusCode"]) == (503, 200)
    assert (sent_tasks, puts) == (["SendTaskSuccess"], ["put"])
    record = local_webhook.record(job.callback_token)
    assert record is not None
    assert record["status"] == "COMPLETED"
    assert record["result"]["output_s3"]["sha256"] == sent_tasks.output()["output_s3"]["sha256"]


def test_slow_s3_write_still_leads_to_the_send(
    local_webhook: LocalWebhook,
    bucket: Any,
    sent_tasks: SentTasks,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """S3 takes 2.1 s to store the object (seen on the clock the lease is measured by). The
    send must not be refused for want of lease: S3's time once ate the send's budget, every
    RunPod try answered 503 though S3 stored the object each time, and nothing reached Step
    Functions."""
    ahead = [0]
    real_clock = callback_records.epoch_ms
    monkeypatch.setattr(callback_records, "epoch_ms", lambda: real_clock() + ahead[0])

    def slow_write(request: Any) -> None:
        ahead[0] += 2_100  # then S3 (moto) stores it

    s3_faults = AwsFaults(large_outputs._store(BUCKET, "runpod-results/")._s3)
    s3_faults.fail("PutObject", slow_write)
    job = local_webhook.start_job()

    try:
        response = local_webhook.deliver(
            job.callback_token, large_body(json.dumps({"frames": [MEGABYTE_OF_BASE64]}))
        )
    finally:
        s3_faults.clear()

    assert response["statusCode"] == 200, response_json(response)
    assert sent_tasks == ["SendTaskSuccess"]
    assert local_webhook.execution(job)["status"] == "SUCCEEDED"


def test_object_a_task_may_hold_is_never_rewritten(
    local_webhook: LocalWebhook,
    bucket: Any,
    faults: AwsFaults,
    sent_tasks: SentTasks,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The send's answer is lost (it reached Step Functions), then the same result arrives
    spaced otherwise (the watchdog reads /status, whose JSON RunPod spaces apart from its
    webhook's). The object the task points to keeps the bytes its sha256 names (it was once
    rewritten, and a consumer checking sha256 rejected the result)."""
    job = local_webhook.start_job()
    output = {"frames": [MEGABYTE_OF_BASE64], "psnr": 38.71}
    faults.fail("SendTaskSuccess", PROCESSED_THEN_TIMED_OUT)  # every try: the first resumes

    first = local_webhook.deliver(job.callback_token, large_body(json.dumps(output)))
    faults.clear()
    let_leases_run_out(monkeypatch)
    again = local_webhook.deliver(job.callback_token, large_body(json.dumps(output, indent=1)))

    assert (first["statusCode"], again["statusCode"]) == (503, 200)
    pointer = sent_tasks.output_of(0)["output_s3"]  # what the task got
    content, _ = stored_object(bucket, pointer)
    assert hashlib.sha256(content).hexdigest() == pointer["sha256"]
    assert len(content) == pointer["size_bytes"]


@pytest.mark.parametrize(
    ("code", "status"),
    [("AccessDenied", 403), ("NoSuchBucket", 404), ("KMS.DisabledException", 400)],
)
def test_permanent_s3_refusal_fails_the_task_once_with_a_typed_error(
    local_webhook: LocalWebhook, bucket: Any, sent_tasks: SentTasks, code: str, status: int
) -> None:
    """S3 refuses for a reason every retry meets (a policy, a missing bucket, a disabled key):
    a 503 on every try once lost the result. The task fails with RunPod.OutputNotStored at
    once, the cause saying what to check; the record is FAILED; RunPod's retry is a duplicate."""
    job = local_webhook.start_job()
    raw = large_body(json.dumps({"frames": [MEGABYTE_OF_BASE64]}))
    s3_faults = AwsFaults(large_outputs._store(BUCKET, "runpod-results/")._s3)
    s3_faults.fail("PutObject", refused(code, status=status, xml=True))

    try:
        first = local_webhook.deliver(job.callback_token, raw)
        retried = local_webhook.deliver(job.callback_token, raw)
    finally:
        s3_faults.clear()

    assert (first["statusCode"], retried["statusCode"]) == (200, 200)
    assert response_json(first)["message"] == "task failed with RunPod.OutputNotStored"
    assert response_json(retried)["message"] == "already failed"
    assert sent_tasks == ["SendTaskFailure"]
    cause = json.loads(sent_tasks.failure()["cause"])
    assert code in cause["error"]
    assert "s3:PutObject" in cause["error"]
    assert local_webhook.execution_error(job) == "RunPod.OutputNotStored"
    record = local_webhook.record(job.callback_token)
    assert record is not None
    assert record["status"] == "FAILED"
    assert record["result"]["step_functions_error"] == "RunPod.OutputNotStored"
