"""A failure of any single AWS call leaves a state from which RunPod's next delivery completes."""

from collections.abc import Iterator
from typing import Any

import pytest

from runpod_callbacks import callback_records
from tests.unit.aws_faults import AwsFaults, read_timeout, throttled
from tests.unit.conftest import LocalWebhook, body, response_json


@pytest.fixture
def faults(handler: Any) -> Iterator[AwsFaults]:
    injected = AwsFaults(handler)
    yield injected
    injected.clear()


# The handler's calls on the happy path: UpdateItem (claim), SendTask*, UpdateItem (finalize).
FAULTS = [
    pytest.param("dynamodb", "UpdateItem", {1}, False, throttled, id="claim-throttled"),
    pytest.param("dynamodb", "UpdateItem", {1}, True, read_timeout, id="claim-landed-timeout"),
    pytest.param("stepfunctions", "SendTaskSuccess", {1}, False, throttled, id="send-throttled"),
    pytest.param("stepfunctions", "SendTaskSuccess", {1}, True, read_timeout, id="send-landed"),
    pytest.param("dynamodb", "UpdateItem", {2}, False, throttled, id="finalize-throttled"),
    pytest.param("dynamodb", "UpdateItem", {2}, True, read_timeout, id="finalize-landed"),
    pytest.param("dynamodb", "UpdateItem", {2, 3}, False, throttled, id="finalize-and-release"),
]


@pytest.mark.parametrize(("client", "operation", "calls", "after_aws_acted", "error"), FAULTS)
def test_next_delivery_completes_the_job_after_a_fault(
    local_webhook: LocalWebhook,
    faults: AwsFaults,
    monkeypatch: pytest.MonkeyPatch,
    client: str,
    operation: str,
    calls: set[int],
    after_aws_acted: bool,
    error: Any,
) -> None:
    job = local_webhook.start_job()
    faults.fail(client, operation, calls=calls, after_aws_acted=after_aws_acted, error=error)

    faulty = local_webhook.deliver(job.callback_token, body("completed.json"))
    faults.clear()
    _let_leases_run_out(monkeypatch)  # RunPod retries 10 s later
    retried = local_webhook.deliver(job.callback_token, body("completed.json"))

    assert faulty["statusCode"] == 503
    assert retried["statusCode"] == 200
    assert response_json(retried)["status"] == "COMPLETED"
    assert local_webhook.execution(job)["status"] == "SUCCEEDED"
    record = local_webhook.record(job.callback_token)
    assert record is not None
    assert record["status"] == "COMPLETED"
    assert record["result"]["output"]["message"] == "Video upscaled successfully"


def test_released_lease_lets_an_immediate_retry_through(
    local_webhook: LocalWebhook, faults: AwsFaults
) -> None:
    job = local_webhook.start_job()
    faults.fail("stepfunctions", "SendTaskFailure", calls={1})

    faulty = local_webhook.deliver(job.callback_token, body("failed.json"))
    record_between = local_webhook.record(job.callback_token)
    retried = local_webhook.deliver(job.callback_token, body("failed.json"))

    assert (faulty["statusCode"], retried["statusCode"]) == (503, 200)
    assert record_between is not None
    assert record_between["status"] == "PENDING"
    assert "lease_id" not in record_between
    assert "attempted_status" not in record_between  # throttled: surely not delivered
    assert local_webhook.execution_error(job) == "RunPod.FAILED"


def test_delivery_that_may_have_landed_is_never_reported_gone(
    local_webhook: LocalWebhook, faults: AwsFaults, sent_tasks: list[str]
) -> None:
    job = local_webhook.start_job()
    faults.fail(
        "stepfunctions", "SendTaskSuccess", calls={1}, after_aws_acted=True, error=read_timeout
    )

    faulty = local_webhook.deliver(job.callback_token, body("completed.json"))
    record_between = local_webhook.record(job.callback_token)
    faults.clear()
    retried = local_webhook.deliver(job.callback_token, body("completed.json"))
    again = local_webhook.deliver(job.callback_token, body("completed.json"))

    assert [faulty["statusCode"], retried["statusCode"], again["statusCode"]] == [503, 200, 200]
    assert record_between is not None
    assert record_between["attempted_status"] == "COMPLETED"
    assert sent_tasks == ["SendTaskSuccess", "SendTaskSuccess"]  # the retry learns it landed
    assert local_webhook.execution(job)["status"] == "SUCCEEDED"


def test_throttled_send_then_expiry_is_reported_gone(
    local_webhook: LocalWebhook, faults: AwsFaults
) -> None:
    job = local_webhook.start_job(impatient=True)
    faults.fail("stepfunctions", "SendTaskSuccess", calls={1})

    faulty = local_webhook.deliver(job.callback_token, body("completed.json"))
    faults.clear()
    local_webhook.execution(job)  # the task times out meanwhile
    retried = local_webhook.deliver(job.callback_token, body("completed.json"))

    assert (faulty["statusCode"], retried["statusCode"]) == (503, 410)
    record = local_webhook.record(job.callback_token)
    assert record is not None
    assert record["status"] == "EXPIRED"


def test_lease_held_by_a_crashed_delivery_blocks_until_it_runs_out(
    local_webhook: LocalWebhook, faults: AwsFaults, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = local_webhook.start_job()
    faults.fail("dynamodb", "UpdateItem", calls={2, 3})  # neither finalize nor release gets through
    local_webhook.deliver(job.callback_token, body("completed.json"))
    faults.clear()

    during_lease = local_webhook.deliver(job.callback_token, body("completed.json"))
    _let_leases_run_out(monkeypatch)
    after_lease = local_webhook.deliver(job.callback_token, body("completed.json"))

    assert during_lease["statusCode"] == 409
    assert after_lease["statusCode"] == 200


def _let_leases_run_out(monkeypatch: pytest.MonkeyPatch) -> None:
    later = callback_records.epoch_ms() + callback_records.LEASE_MS + 1_000
    monkeypatch.setattr(callback_records, "epoch_ms", lambda: later)
