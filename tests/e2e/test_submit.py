"""The submit function: record before RunPod, one job per task token, typed errors, end to end."""

import base64
import json
import os
import re
import time
import traceback
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from localdev.fake_runpod import RunRequest
from localdev.lambda_context import LocalLambdaContext
from localdev.local_webhook import Job
from runpod_callbacks.errors import SubmitError
from tests.e2e.aws_faults import PROCESSED_THEN_TIMED_OUT, THROTTLED, AwsFaults
from tests.e2e.conftest import API_KEY, RunPodWorld, SentTasks, sends_of


def test_job_runs_as_one_task_from_submit_to_webhook(world: RunPodWorld) -> None:
    execution, payload = world.start({"segment": "s3://videos/seg_0001.mp4", "scale": 2.5})

    result = world.invoke(payload)
    webhook_calls = world.runpod.wait_for_webhooks()

    assert result["status"] == "SUBMITTED"
    (run,) = world.runpod.runs
    assert run.endpoint_id == "upscaler-v2"
    assert run.body["input"] == {"segment": "s3://videos/seg_0001.mp4", "scale": 2.5}
    assert run.headers["Authorization"] == f"Bearer {API_KEY}"
    assert [call.statuses for call in webhook_calls] == [[200]]
    final = world.local.execution(aws_setup_job(execution))
    assert final["status"] == "SUCCEEDED"
    output = json.loads(final["output"])
    assert output["job_id"] == result["job_id"]
    assert output["output"] == {"processed": {"segment": "s3://videos/seg_0001.mp4", "scale": 2.5}}
    assert output["exec_id"] == execution.rsplit(":", 1)[-1]
    assert output["segment_filename"] == "seg_0001.mp4"


def test_record_is_written_before_runpod_hears_of_the_job(
    world: RunPodWorld,
) -> None:
    seen_at_submit: list[dict[str, Any] | None] = []

    def look_up_record(request: RunRequest) -> None:
        seen_at_submit.append(world.local.record(str(request.body["webhook"]).rsplit("/", 1)[-1]))

    world.runpod._on_run = look_up_record  # the fake's hook, for this test
    _, payload = world.start()

    result = world.invoke(payload)

    (record,) = seen_at_submit
    assert record is not None
    assert record["status"] == "PENDING"
    assert record["task_token"] == payload["task_token"]
    assert (record["exec_id"], record["segment_filename"]) == (payload["exec_id"], "seg_0001.mp4")
    assert record["endpoint_id"] == "upscaler-v2"
    assert abs(int(record["ttl"]) - (time.time() + 7 * 24 * 3600)) < 60  # the default lifetime
    stored = world.local.record(world.webhook_token())
    assert stored is not None
    assert stored["job_id"] == result["job_id"]


def test_webhook_token_is_unguessable_url_safe_and_maps_to_the_record(world: RunPodWorld) -> None:
    _, payload = world.start()

    world.invoke(payload)
    token = world.webhook_token()

    assert str(world.runpod.runs[0].body["webhook"]).startswith(
        os.environ["WEBHOOK_BASE_URL"] + "/"
    )
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)  # base64url without padding
    assert len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) * 8 >= 128
    assert world.local.record(token) is not None
    assert payload["task_token"] not in json.dumps(world.runpod.runs[0].body)


def test_retried_invocation_submits_no_second_job(world: RunPodWorld) -> None:
    execution, payload = world.start()

    first = world.invoke(payload)
    second = world.invoke(payload)

    assert len(world.runpod.runs) == 1
    assert second["job_id"] == first["job_id"]
    world.runpod.wait_for_webhooks()
    assert world.local.execution(aws_setup_job(execution))["status"] == "SUCCEEDED"


def test_runpod_rejection_is_a_typed_error_and_fails_the_task(world: RunPodWorld) -> None:
    world.runpod.answers.append((400, {"error": "input.segment is required"}))
    execution, payload = world.start()

    with pytest.raises(SubmitError, match=r"input\.segment is required") as raised:
        world.invoke(payload)

    assert type(raised.value).__name__ == "RunPod.SubmitRejected"
    assert len(world.runpod.runs) == 1  # a 4xx is not retried
    assert world.local.execution_error(aws_setup_job(execution)) == "RunPod.SubmitRejected"
    (record,) = world.local.all_records()
    assert record["status"] == "FAILED"
    assert record["result"]["step_functions_error"] == "RunPod.SubmitRejected"


def test_late_webhook_cannot_resurrect_a_failed_submission(world: RunPodWorld) -> None:
    world.runpod.answers.append((400, {"error": "bad input"}))
    _, payload = world.start()
    with pytest.raises(SubmitError, match="bad input"):
        world.invoke(payload)
    (record,) = world.local.all_records()

    response = world.local.deliver(
        record["callback_token"], {"id": "job-late", "status": "COMPLETED", "output": {}}
    )

    assert response["statusCode"] == 200
    assert json.loads(response["body"])["status"] == "FAILED"


def test_runpod_busy_is_retried_then_accepted(world: RunPodWorld) -> None:
    world.runpod.answers.extend([(503, {"error": "busy"})] * 2)
    execution, payload = world.start()

    result = world.invoke(payload)

    assert result["status"] == "SUBMITTED"
    assert len(world.runpod.runs) == 3
    world.runpod.wait_for_webhooks()
    assert world.local.execution(aws_setup_job(execution))["status"] == "SUCCEEDED"


def test_runpod_down_after_retries_is_submit_failed(world: RunPodWorld) -> None:
    world.runpod.answers.extend([(503, {"error": "down"})] * 3)
    execution, payload = world.start()

    with pytest.raises(SubmitError, match="503") as raised:
        world.invoke(payload)

    assert type(raised.value).__name__ == "RunPod.SubmitFailed"
    assert len(world.runpod.runs) == 3
    assert world.local.execution_error(aws_setup_job(execution)) == "RunPod.SubmitFailed"


@pytest.mark.parametrize(
    "change",
    [
        {"endpoint_id": "../../admin"},
        {"input": "not an object"},
        {"exec_id": ""},
        {"policy": {"executionTimeout": 1000, "typo": 1}},
        {"record_lifetime_s": 5},
    ],
)
def test_bad_payload_is_invalid_request_and_nothing_is_submitted(
    world: RunPodWorld, change: dict[str, Any]
) -> None:
    execution, payload = world.start()

    with pytest.raises(SubmitError) as raised:
        world.invoke({**payload, **change})

    assert type(raised.value).__name__ == "RunPod.InvalidRequest"
    assert world.runpod.runs == []
    assert world.local.all_records() == []
    assert world.local.execution_error(aws_setup_job(execution)) == "RunPod.InvalidRequest"


def test_missing_task_token_is_invalid_request(world: RunPodWorld) -> None:
    with pytest.raises(SubmitError) as raised:
        world.invoke({"endpoint_id": "ep", "input": {}, "exec_id": "e", "segment_filename": "s"})

    assert type(raised.value).__name__ == "RunPod.InvalidRequest"
    assert world.runpod.runs == []


def test_policy_is_passed_to_runpod(world: RunPodWorld) -> None:
    _, payload = world.start()

    world.invoke({**payload, "policy": {"executionTimeout": 600000, "ttl": 3600000}})

    assert world.runpod.runs[0].body["policy"] == {"executionTimeout": 600000, "ttl": 3600000}


def test_api_key_and_task_token_never_reach_the_logs(
    world: RunPodWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    world.runpod.answers.append((401, {"error": "unauthorized"}))
    _, first = world.start()
    _, second = world.start()

    with pytest.raises(SubmitError, match="unauthorized"):
        world.invoke(first)
    world.invoke(second)
    world.runpod.wait_for_webhooks()
    logs = capsys.readouterr().out

    assert "RunPod accepted job" in logs
    assert API_KEY not in logs
    assert first["task_token"] not in logs
    assert second["task_token"] not in logs
    assert world.webhook_token() not in logs


def aws_setup_job(execution_arn: str) -> Job:
    return Job(execution_arn, callback_token="")


@pytest.mark.parametrize(
    "secret",
    [
        API_KEY,
        f"  {API_KEY}\n",
        json.dumps({"api_key": API_KEY}),
        json.dumps({"api_key": f"{API_KEY}\n"}),
        json.dumps({"token": API_KEY}),
    ],
)
def test_api_key_secret_may_be_plain_or_json(world: RunPodWorld, secret: str) -> None:
    boto3.client("secretsmanager").put_secret_value(SecretId="runpod-api-key", SecretString=secret)
    _, payload = world.start()

    world.invoke(payload)

    assert world.runpod.runs[0].headers["Authorization"] == f"Bearer {API_KEY}"


def test_malformed_json_secret_is_a_typed_error(world: RunPodWorld) -> None:
    boto3.client("secretsmanager").put_secret_value(
        SecretId="runpod-api-key", SecretString='{"api_key": '
    )
    execution, payload = world.start()

    with pytest.raises(SubmitError, match="not JSON") as raised:
        world.invoke(payload)

    assert type(raised.value).__name__ == "RunPod.SubmitFailed"
    assert world.runpod.runs == []
    assert world.local.execution_error(aws_setup_job(execution)) == "RunPod.SubmitFailed"


def test_typed_error_names_itself(world: RunPodWorld) -> None:
    with pytest.raises(SubmitError, match=r"^RunPod\.InvalidRequest: task_token"):
        world.invoke({"endpoint_id": "ep", "input": {}, "exec_id": "e", "segment_filename": "s"})


def test_job_id_that_cannot_be_stored_never_fails_the_running_job(
    world: RunPodWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    faults = AwsFaults(world.submit.dynamodb)
    faults.fail("UpdateItem", THROTTLED)  # every try of every attempt to store the job id
    execution, payload = world.start()

    try:
        result = world.invoke(payload)
    finally:
        faults.clear()
    world.runpod.wait_for_webhooks()
    stdout = capsys.readouterr().out

    assert result["status"] == "SUBMITTED"
    assert len(world.runpod.runs) == 1
    assert "JobIdNotRecorded" in stdout
    assert "the webhook fills it in" in stdout
    assert world.local.execution(aws_setup_job(execution))["status"] == "SUCCEEDED"
    (record,) = world.local.all_records()
    assert (record["status"], record["job_id"]) == ("COMPLETED", result["job_id"])


def test_record_write_whose_answer_was_lost_still_submits_the_job(world: RunPodWorld) -> None:
    faults = AwsFaults(world.submit.dynamodb)
    faults.fail("PutItem", PROCESSED_THEN_TIMED_OUT, tries={1})
    execution, payload = world.start()

    try:
        result = world.invoke(payload)
    finally:
        faults.clear()
    world.runpod.wait_for_webhooks()

    assert result["status"] == "SUBMITTED"
    assert len(world.runpod.runs) == 1
    assert world.local.execution(aws_setup_job(execution))["status"] == "SUCCEEDED"


MALFORMED_STATUS_LINE = b"HTTP/1.1 two-hundred\r\n\r\n"
CUT_SHORT_200 = b'HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n{"id": "job-cut'


@pytest.mark.parametrize(
    "broken",
    [MALFORMED_STATUS_LINE, CUT_SHORT_200, (502, {"error": "bad gateway"}), (200, {})],
    ids=["bad-status-line", "cut-short", "502", "no-job-id"],
)
def test_answer_lost_after_runpod_took_the_job_is_never_sent_twice(
    world: RunPodWorld, capsys: pytest.CaptureFixture[str], broken: Any
) -> None:
    world.runpod.answers_after_accepting.append(broken)
    execution, payload = world.start()

    result = world.invoke(payload)
    world.runpod.wait_for_webhooks()

    assert (result["status"], result["job_id"]) == ("SUBMITTED_UNCERTAIN", None)
    assert len(world.runpod.runs) == 1
    assert "not submitting it again" in capsys.readouterr().out
    assert world.local.execution(aws_setup_job(execution))["status"] == "SUCCEEDED"
    (record,) = world.local.all_records()
    assert record["status"] == "COMPLETED"


@pytest.mark.parametrize(
    "secret",
    [f"rp_TESTKEY\n{API_KEY}", json.dumps({"api_key": f"{API_KEY} trailing words"})],
    ids=["newline-inside", "space-inside"],
)
def test_key_an_http_header_cannot_carry_is_a_typed_failure_that_never_shows_it(
    world: RunPodWorld, capsys: pytest.CaptureFixture[str], task_failures: SentTasks, secret: str
) -> None:
    boto3.client("secretsmanager").put_secret_value(SecretId="runpod-api-key", SecretString=secret)
    execution, payload = world.start()

    with pytest.raises(SubmitError, match="cannot carry") as raised:
        world.invoke(payload)

    assert type(raised.value).__name__ == "RunPod.SubmitFailed"
    assert world.runpod.runs == []
    assert world.local.execution_error(aws_setup_job(execution)) == "RunPod.SubmitFailed"
    _assert_key_nowhere(raised.value, capsys.readouterr().out, task_failures)


def test_rotated_key_is_read_again_after_runpod_refuses_the_cached_one(
    world: RunPodWorld,
) -> None:
    _, warm_up = world.start()
    world.invoke(warm_up)  # the instance caches API_KEY
    new_key = "rp_ROTATED_KEY_fedcba9876543210"
    boto3.client("secretsmanager").put_secret_value(SecretId="runpod-api-key", SecretString=new_key)
    world.runpod.api_keys = {new_key}
    execution, payload = world.start()

    result = world.invoke(payload)
    world.runpod.wait_for_webhooks()

    assert result["status"] == "SUBMITTED"
    assert [run.headers["Authorization"] for run in world.runpod.runs[1:]] == [
        f"Bearer {API_KEY}",
        f"Bearer {new_key}",
    ]
    assert world.local.execution(aws_setup_job(execution))["status"] == "SUCCEEDED"


def test_key_refused_without_a_rotation_is_rejected_at_once(world: RunPodWorld) -> None:
    world.runpod.api_keys = {"rp_some_other_key"}
    execution, payload = world.start()

    with pytest.raises(SubmitError, match="401") as raised:
        world.invoke(payload)

    assert type(raised.value).__name__ == "RunPod.SubmitRejected"
    assert len(world.runpod.runs) == 1
    assert world.local.execution_error(aws_setup_job(execution)) == "RunPod.SubmitRejected"


def _assert_key_nowhere(error: BaseException, logs: str, failures: SentTasks) -> None:
    """Neither the message, the chained traceback, the logs nor the task's cause holds the key."""
    traceback_text = "".join(traceback.format_exception(error))
    assert API_KEY not in str(error)
    assert API_KEY not in traceback_text
    assert API_KEY not in logs
    assert failures.failure()["error"] == "RunPod.SubmitFailed"
    assert API_KEY not in failures.failure()["cause"]


@pytest.fixture
def task_failures(world: RunPodWorld) -> Iterator[SentTasks]:
    """The SendTask* calls of the submit function (it sends only failures), with their causes."""
    with sends_of(world.submit.stepfunctions) as sent:
        yield sent


def test_retried_invocation_after_the_key_rotated_submits_no_second_job(
    world: RunPodWorld,
) -> None:
    """The callback token was once an HMAC keyed by the API key: after a rotation a retried
    invocation got another token, another record and a second RunPod job (a second GPU bill,
    the loser's webhook 410)."""
    _, payload = world.start()
    first = world.invoke(payload)
    boto3.client("secretsmanager").put_secret_value(
        SecretId="runpod-api-key", SecretString="rp_ROTATED_KEY_0123456789"
    )
    world.submit.api_keys._cached.clear()  # another instance, or the cache's 5 minutes passed

    second = world.invoke(payload)

    assert len(world.runpod.runs) == 1
    assert (second["status"], second["job_id"]) == ("ALREADY_SUBMITTED", first["job_id"])
    assert len(world.local.all_records()) == 1


def test_runpod_rate_limit_is_a_fast_typed_retryable_error(
    world: RunPodWorld, task_failures: SentTasks
) -> None:
    """RunPod's /run limit (1,000 per 10 s, 200 at once per endpoint) answers 429: not a failure
    of the job. The function answers at once with RunPod.SubmitThrottled, which the state
    machine retries with backoff and jitter; it once retried three times itself, then failed
    the task with RunPod.SubmitFailed."""
    world.runpod.answers.append((429, {"error": "rate limit exceeded"}))
    _, payload = world.start()

    with pytest.raises(SubmitError, match="429") as raised:
        world.invoke(payload)

    assert type(raised.value).__name__ == "RunPod.SubmitThrottled"
    assert len(world.runpod.runs) == 1  # not retried here: the state machine backs off
    assert [r["error"] for r in task_failures.requests] == ["RunPod.SubmitThrottled"]
    (record,) = world.local.all_records()
    assert record["status"] == "FAILED"  # no job started: no webhook can resurrect it
    assert "pending_shard" not in record  # and the watchdog's index lets it go


@pytest.mark.parametrize(("retry_after", "runs"), [("0.2", 2), ("30", 1)])
def test_a_short_retry_after_is_waited_out_once_a_long_one_is_the_state_machines(
    world: RunPodWorld, retry_after: str, runs: int
) -> None:
    world.runpod.answers.append(
        b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: " + retry_after.encode()
        + b"\r\nContent-Length: 2\r\n\r\n{}"
    )  # fmt: skip
    _, payload = world.start()

    if runs == 2:
        assert world.invoke(payload)["status"] == "SUBMITTED"
    else:
        with pytest.raises(SubmitError, match="retry after 30 s"):
            world.invoke(payload)

    assert len(world.runpod.runs) == runs


def test_function_out_of_time_ends_with_a_typed_error_not_a_timeout(world: RunPodWorld) -> None:
    """With less time left than one RunPod try and the job id's writes need, the function gives
    up with RunPod.SubmitFailed at once (it once ran into its own timeout, which the state
    machine sees as an untyped Lambda error)."""
    _, payload = world.start()
    context = LocalLambdaContext(remaining_time_ms=25_000)  # the job id's writes need 22.5 s

    with pytest.raises(SubmitError, match="out of time") as raised:
        world.submit.lambda_handler(payload, context)

    assert type(raised.value).__name__ == "RunPod.SubmitFailed"
    assert world.runpod.runs == []
