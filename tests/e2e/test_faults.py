"""A failure of any single AWS call leaves a state from which RunPod's next delivery completes.

Faults are injected on HTTP tries, below botocore's retries (tests/e2e/aws_faults.py), so the
handler sees what it would see in Lambda: a call throttled on every try, a call that AWS carried
out but whose answer was lost, a deterministic refusal.
"""

import random
from typing import Any

import pytest

from localdev.local_webhook import LocalWebhook
from runpod_callbacks import callback_records
from tests.e2e.aws_faults import (
    PROCESSED_THEN_CONNECTION_LOST,
    PROCESSED_THEN_TIMED_OUT,
    THROTTLED,
    AwsFaults,
    Fault,
    never_connected,
    refused,
)
from tests.e2e.conftest import SentTasks, body, let_leases_run_out, response_json

UNAVAILABLE = refused("ServiceUnavailable", status=503)


# The handler's tries on the happy path: UpdateItem 1 (claim), UpdateItem 2 (mark the send),
# SendTask*, UpdateItem 3 (finalize). botocore makes 2 tries per call, so tries {1, 2} fail the
# claim call, {2, 3} the mark, {3, 4} the finalize call.
FAULTS = [
    pytest.param("UpdateItem", THROTTLED, {1, 2}, 503, id="claim-throttled"),
    pytest.param("UpdateItem", never_connected, {1, 2}, 503, id="claim-never-connected"),
    pytest.param("UpdateItem", UNAVAILABLE, {1, 2}, 503, id="claim-5xx"),
    pytest.param("UpdateItem", PROCESSED_THEN_TIMED_OUT, {1}, 200, id="claim-answer-lost"),
    pytest.param("UpdateItem", THROTTLED, {2, 3}, 503, id="mark-throttled"),
    pytest.param("UpdateItem", PROCESSED_THEN_TIMED_OUT, {2}, 200, id="mark-answer-lost"),
    pytest.param("SendTaskSuccess", THROTTLED, None, 503, id="send-throttled"),
    pytest.param("SendTaskSuccess", UNAVAILABLE, None, 503, id="send-5xx"),
    pytest.param("SendTaskSuccess", PROCESSED_THEN_TIMED_OUT, {1}, 200, id="send-answer-lost"),
    pytest.param("SendTaskSuccess", PROCESSED_THEN_TIMED_OUT, None, 503, id="send-lost-twice"),
    pytest.param("UpdateItem", THROTTLED, {3, 4}, 503, id="finalize-throttled"),
    pytest.param("UpdateItem", PROCESSED_THEN_CONNECTION_LOST, {3}, 200, id="finalize-lost"),
    pytest.param("UpdateItem", THROTTLED, {3, 4, 5, 6}, 503, id="finalize-and-release"),
]


@pytest.mark.parametrize(("operation", "fault", "tries", "first_answer"), FAULTS)
def test_next_delivery_completes_the_job_after_a_fault(
    local_webhook: LocalWebhook,
    faults: AwsFaults,
    sent_tasks: SentTasks,
    monkeypatch: pytest.MonkeyPatch,
    operation: str,
    fault: Fault,
    tries: set[int] | None,
    first_answer: int,
) -> None:
    job = local_webhook.start_job()
    faults.fail(operation, fault, tries=tries)

    faulty = local_webhook.deliver(job.callback_token, body("completed.json"))
    faults.clear()
    let_leases_run_out(monkeypatch)  # RunPod retries 10 s later
    retried = local_webhook.deliver(job.callback_token, body("completed.json"))

    assert faulty["statusCode"] == first_answer, response_json(faulty)
    assert retried["statusCode"] == 200
    assert response_json(retried)["status"] == "COMPLETED"
    assert local_webhook.execution(job)["status"] == "SUCCEEDED"
    record = local_webhook.record(job.callback_token)
    assert record is not None
    assert record["status"] == "COMPLETED"
    assert record["result"]["output"]["message"] == "Video upscaled successfully"
    assert "lease_expires_at" not in record
    assert set(sent_tasks) == {"SendTaskSuccess"}


def test_claim_whose_answer_was_lost_is_recognised_as_its_own(
    local_webhook: LocalWebhook, faults: AwsFaults, sent_tasks: SentTasks
) -> None:
    job = local_webhook.start_job()
    faults.fail("UpdateItem", PROCESSED_THEN_CONNECTION_LOST, tries={1})

    response = local_webhook.deliver(job.callback_token, body("completed.json"))

    assert response["statusCode"] == 200  # not 409 "another delivery in flight"
    assert faults.tries["UpdateItem"] == 4  # the claim twice (botocore's retry), mark, finalize
    assert sent_tasks == ["SendTaskSuccess"]
    record = local_webhook.record(job.callback_token)
    assert record is not None
    assert (record["status"], record["delivery_attempts"]) == ("COMPLETED", 1)


def test_released_lease_lets_an_immediate_retry_through(
    local_webhook: LocalWebhook, faults: AwsFaults
) -> None:
    job = local_webhook.start_job()
    faults.fail("SendTaskFailure", THROTTLED)

    faulty = local_webhook.deliver(job.callback_token, body("failed.json"))
    record_between = local_webhook.record(job.callback_token)
    faults.clear()
    retried = local_webhook.deliver(job.callback_token, body("failed.json"))

    assert (faulty["statusCode"], retried["statusCode"]) == (503, 200)
    assert record_between is not None
    assert record_between["status"] == "PENDING"
    assert "lease_id" not in record_between
    assert "maybe_delivered_by" not in record_between  # throttled: surely not delivered
    assert local_webhook.execution_error(job) == "RunPod.FAILED"


def test_release_whose_answer_was_lost_still_lets_the_retry_through(
    local_webhook: LocalWebhook, faults: AwsFaults
) -> None:
    job = local_webhook.start_job()
    faults.fail("SendTaskSuccess", THROTTLED)
    faults.fail("UpdateItem", PROCESSED_THEN_TIMED_OUT, tries={3})  # the release

    faulty = local_webhook.deliver(job.callback_token, body("completed.json"))
    faults.clear()
    retried = local_webhook.deliver(job.callback_token, body("completed.json"))

    assert (faulty["statusCode"], retried["statusCode"]) == (503, 200)
    assert local_webhook.execution(job)["status"] == "SUCCEEDED"


def test_delivery_that_may_have_landed_is_never_reported_gone(
    local_webhook: LocalWebhook, faults: AwsFaults, sent_tasks: SentTasks
) -> None:
    job = local_webhook.start_job()
    faults.fail("SendTaskSuccess", PROCESSED_THEN_TIMED_OUT)  # every try, the first resumes

    faulty = local_webhook.deliver(job.callback_token, body("completed.json"))
    record_between = local_webhook.record(job.callback_token)
    faults.clear()
    retried = local_webhook.deliver(job.callback_token, body("completed.json"))
    again = local_webhook.deliver(job.callback_token, body("completed.json"))

    assert [faulty["statusCode"], retried["statusCode"], again["statusCode"]] == [503, 200, 200]
    assert record_between is not None
    assert len(record_between["maybe_delivered_by"]) == 1
    # The first delivery tries twice (both time out), the retry once and learns it landed.
    assert sent_tasks == ["SendTaskSuccess"] * 3
    assert local_webhook.execution(job)["status"] == "SUCCEEDED"
    record = local_webhook.record(job.callback_token)
    assert record is not None
    assert record["status"] == "COMPLETED"


@pytest.mark.parametrize("fault", [THROTTLED, never_connected], ids=["throttled", "no-connection"])
def test_send_that_surely_did_not_happen_then_expiry_is_reported_gone(
    local_webhook: LocalWebhook,
    faults: AwsFaults,
    capsys: pytest.CaptureFixture[str],
    fault: Fault,
) -> None:
    job = local_webhook.start_job(impatient=True)
    faults.fail("SendTaskSuccess", fault)  # every try: botocore retried and gave up

    faulty = local_webhook.deliver(job.callback_token, body("completed.json"))
    tries = faults.tries["SendTaskSuccess"]
    faults.clear()
    local_webhook.execution(job)  # the task times out meanwhile
    capsys.readouterr()
    retried = local_webhook.deliver(job.callback_token, body("completed.json"))

    assert tries == 2  # botocore retried
    assert (faulty["statusCode"], retried["statusCode"]) == (503, 410)
    record = local_webhook.record(job.callback_token)
    assert record is not None
    assert record["status"] == "EXPIRED"
    assert '"TaskExpired":[1.0]' in capsys.readouterr().out


@pytest.mark.parametrize("code", ["InvalidOutput", "ValidationException"])
def test_output_step_functions_refuses_fails_the_task_as_invalid_output(
    local_webhook: LocalWebhook, faults: AwsFaults, sent_tasks: SentTasks, code: str
) -> None:
    job = local_webhook.start_job()
    faults.fail("SendTaskSuccess", refused(code, message="no"))

    response = local_webhook.deliver(job.callback_token, body("completed.json"))

    assert response["statusCode"] == 200
    assert response_json(response) == {
        "status": "FAILED",
        "message": "task failed with RunPod.InvalidOutput",
    }
    assert faults.tries["SendTaskSuccess"] == 1  # a refusal is not retried
    assert sent_tasks == ["SendTaskSuccess", "SendTaskFailure"]
    assert code in sent_tasks.failure()["cause"]
    assert local_webhook.execution_error(job) == "RunPod.InvalidOutput"
    record = local_webhook.record(job.callback_token)
    assert record is not None
    assert record["status"] == "FAILED"
    assert record["result"]["step_functions_error"] == "RunPod.InvalidOutput"


def test_task_token_step_functions_refuses_is_gone_for_good(
    local_webhook: LocalWebhook, faults: AwsFaults
) -> None:
    job = local_webhook.start_job()
    faults.fail("SendTaskFailure", refused("ValidationException"))

    first = local_webhook.deliver(job.callback_token, body("failed.json"))
    second = local_webhook.deliver(job.callback_token, body("failed.json"))

    assert (first["statusCode"], second["statusCode"]) == (410, 410)
    record = local_webhook.record(job.callback_token)
    assert record is not None
    assert record["status"] == "EXPIRED"


@pytest.mark.parametrize(
    ("tries", "stored"),
    [({3}, "minimal"), ({3, 4}, "status only")],
    ids=["minimal-result", "status-only"],
)
def test_result_dynamodb_refuses_is_stored_smaller_and_the_record_still_ends(
    local_webhook: LocalWebhook, faults: AwsFaults, tries: set[int], stored: str
) -> None:
    job = local_webhook.start_job()
    too_large = refused("ValidationException", message="Item too large")
    faults.fail("UpdateItem", too_large, tries=tries)

    response = local_webhook.deliver(job.callback_token, body("completed.json"))

    assert response["statusCode"] == 200
    assert local_webhook.execution(job)["status"] == "SUCCEEDED"
    record = local_webhook.record(job.callback_token)
    assert record is not None
    assert record["status"] == "COMPLETED"
    assert "pending_shard" not in record  # out of the watchdog's index
    if stored == "minimal":
        assert record["result"]["runpod_status"] == "COMPLETED"
        assert "output" not in record["result"]
        assert record["result"]["result_omitted"]
    else:
        assert "result" not in record


def test_send_mark_dynamodb_refuses_still_resumes_the_task(
    local_webhook: LocalWebhook, faults: AwsFaults
) -> None:
    """Marking the send is bookkeeping for a later delivery: a refusal of it (which every retry
    would meet) must not keep the result from the task."""
    job = local_webhook.start_job()
    faults.fail("UpdateItem", refused("ValidationException"), tries={2})

    response = local_webhook.deliver(job.callback_token, body("completed.json"))

    assert response["statusCode"] == 200
    assert local_webhook.execution(job)["status"] == "SUCCEEDED"
    record = local_webhook.record(job.callback_token)
    assert record is not None
    assert record["status"] == "COMPLETED"


def test_claim_dynamodb_refuses_is_a_conflict_that_changes_nothing(
    local_webhook: LocalWebhook, faults: AwsFaults, sent_tasks: SentTasks
) -> None:
    job = local_webhook.start_job()
    before = local_webhook.record(job.callback_token)
    faults.fail("UpdateItem", refused("ValidationException"))

    response = local_webhook.deliver(job.callback_token, body("completed.json"))

    assert response["statusCode"] == 409
    assert faults.tries["UpdateItem"] == 1
    assert local_webhook.record(job.callback_token) == before
    assert sent_tasks == []


def test_lease_held_by_a_crashed_delivery_blocks_until_it_runs_out(
    local_webhook: LocalWebhook, faults: AwsFaults, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = local_webhook.start_job()
    faults.fail("UpdateItem", THROTTLED, tries={3, 4, 5, 6})  # no finalize, no release
    local_webhook.deliver(job.callback_token, body("completed.json"))
    faults.clear()

    during_lease = local_webhook.deliver(job.callback_token, body("completed.json"))
    let_leases_run_out(monkeypatch)
    after_lease = local_webhook.deliver(job.callback_token, body("completed.json"))

    assert during_lease["statusCode"] == 409
    assert after_lease["statusCode"] == 200


def test_under_random_faults_a_delivery_never_refuses_itself(
    local_webhook: LocalWebhook, faults: AwsFaults, monkeypatch: pytest.MonkeyPatch
) -> None:
    """20% of all AWS tries fail in every way they can; RunPod delivers each job up to 3 times."""
    chance = random.Random(20)  # noqa: S311 - a reproducible test, not cryptography
    kinds = [THROTTLED, UNAVAILABLE, never_connected, PROCESSED_THEN_TIMED_OUT]

    def sometimes(request: Any) -> Any:
        return chance.choice(kinds)(request) if chance.random() < 0.2 else None

    now = [callback_records.epoch_ms()]
    monkeypatch.setattr(callback_records, "epoch_ms", lambda: now[0])
    jobs = [local_webhook.start_job() for _ in range(30)]
    for operation in ("UpdateItem", "SendTaskSuccess"):
        faults.fail(operation, sometimes)

    answers: dict[str, list[int]] = {}
    for job in jobs:
        for _ in range(3):  # RunPod: 3 attempts, 10 s apart
            status = local_webhook.deliver(job.callback_token, body("completed.json"))["statusCode"]
            answers.setdefault(job.callback_token, []).append(status)
            now[0] += 10_000
            if status == 200:
                break
    faults.clear()

    every_answer = [status for statuses in answers.values() for status in statuses]
    assert set(every_answer) <= {200, 503}, every_answer  # never 409: no self-refusal
    assert every_answer.count(503) > 0  # the faults did bite
    for job in jobs:
        record = local_webhook.record(job.callback_token)
        assert record is not None
        if answers[job.callback_token][-1] == 200:
            assert local_webhook.execution(job)["status"] == "SUCCEEDED"
            assert record["status"] == "COMPLETED"
        else:  # three 503s: the result waits for the next delivery (the watchdog's)
            assert record["status"] == "PENDING"
