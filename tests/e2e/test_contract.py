"""Each row of the webhook HTTP contract, through a real (moto) state machine execution."""

import json
from decimal import Decimal

import pytest

from localdev.lambda_context import LocalLambdaContext
from localdev.local_webhook import LocalWebhook, webhook_event
from tests.e2e.conftest import SentTasks, body, response_json


def test_completed_job_resumes_the_execution_with_the_documented_output(
    local_webhook: LocalWebhook, sent_tasks: list[str]
) -> None:
    job = local_webhook.start_job()

    response = local_webhook.deliver(job.callback_token, body("completed.json"))

    assert response["statusCode"] == 200
    assert response_json(response)["status"] == "COMPLETED"
    execution = local_webhook.execution(job)
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"]) == {
        "callback_token": job.callback_token,
        "job_id": "runpod-job-123",
        "status": "COMPLETED",
        "output": {
            "message": "Video upscaled successfully",
            "segment": "seg_0001.mp4",
            "psnr": 38.71,
        },
        "exec_id": f"exec-{job.callback_token[:8]}",
        "segment_filename": "seg_0001.mp4",
        "delay_time_ms": 1523,
        "execution_time_ms": 48210,
    }
    assert sent_tasks == ["SendTaskSuccess"]
    record = local_webhook.record(job.callback_token)
    assert record is not None
    assert record["status"] == "COMPLETED"
    assert record["completed_at"].endswith("Z")
    assert record["result"]["runpod_status"] == "COMPLETED"
    assert record["result"]["output"]["psnr"] == Decimal("38.71")
    assert "lease_expires_at" not in record
    assert "maybe_delivered_by" not in record


@pytest.mark.parametrize("status", ["FAILED", "CANCELLED", "TIMED_OUT"])
def test_unsuccessful_job_fails_the_execution_with_a_runpod_error(
    local_webhook: LocalWebhook, sent_tasks: list[str], status: str
) -> None:
    job = local_webhook.start_job()

    response = local_webhook.deliver(job.callback_token, body("failed.json", status=status))

    assert response["statusCode"] == 200
    assert local_webhook.execution(job)["status"] == "FAILED"
    assert local_webhook.execution_error(job) == f"RunPod.{status}"
    assert sent_tasks == ["SendTaskFailure"]
    record = local_webhook.record(job.callback_token)
    assert record is not None
    assert record["status"] == "FAILED"
    assert record["result"]["error"] == "CUDA out of memory"
    assert record["result"]["step_functions_error"] == f"RunPod.{status}"


def test_output_over_the_step_functions_limit_fails_the_task_and_keeps_the_record_small(
    local_webhook: LocalWebhook,
) -> None:
    job = local_webhook.start_job()
    huge_output = {"frames": ["x" * 1000] * 300}  # about 300 KB serialized

    response = local_webhook.deliver(job.callback_token, body("completed.json", output=huge_output))

    assert response["statusCode"] == 200
    assert local_webhook.execution(job)["status"] == "FAILED"
    assert local_webhook.execution_error(job) == "RunPod.OutputTooLarge"
    record = local_webhook.record(job.callback_token)
    assert record is not None
    assert record["status"] == "FAILED"
    assert "output" not in record["result"]
    assert record["result"]["output_bytes"] > 256 * 1024


def test_output_too_large_for_the_record_but_not_for_step_functions_is_forwarded_whole(
    local_webhook: LocalWebhook,
) -> None:
    job = local_webhook.start_job()
    output = {"frames": ["y" * 1000] * 200}  # 200 KB: fits Step Functions, not the record

    local_webhook.deliver(job.callback_token, body("completed.json", output=output))

    execution = local_webhook.execution(job)
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"])["output"] == output
    record = local_webhook.record(job.callback_token)
    assert record is not None
    assert record["result"]["output_omitted"] == "too large"


def test_duplicate_delivery_is_acknowledged_without_sending_again(
    local_webhook: LocalWebhook, sent_tasks: list[str]
) -> None:
    job = local_webhook.start_job()
    local_webhook.deliver(job.callback_token, body("completed.json"))
    record_after_first = local_webhook.record(job.callback_token)

    response = local_webhook.deliver(job.callback_token, body("completed.json"))

    assert response["statusCode"] == 200
    assert response_json(response) == {"status": "COMPLETED", "message": "already completed"}
    assert sent_tasks == ["SendTaskSuccess"]
    assert local_webhook.record(job.callback_token) == record_after_first


def test_failed_record_answers_a_later_success_as_already_done(
    local_webhook: LocalWebhook, sent_tasks: list[str]
) -> None:
    job = local_webhook.start_job()
    local_webhook.deliver(job.callback_token, body("failed.json"))

    response = local_webhook.deliver(job.callback_token, body("completed.json"))

    assert response["statusCode"] == 200
    assert response_json(response)["status"] == "FAILED"
    assert sent_tasks == ["SendTaskFailure"]


def test_job_id_other_than_the_records_is_a_conflict_and_changes_nothing(
    local_webhook: LocalWebhook, sent_tasks: list[str]
) -> None:
    job = local_webhook.start_job(job_id="runpod-job-123")
    before = local_webhook.record(job.callback_token)

    response = local_webhook.deliver(job.callback_token, body("completed.json", id="someone-else"))

    assert response["statusCode"] == 409
    assert local_webhook.record(job.callback_token) == before
    assert sent_tasks == []
    assert local_webhook.status_now(job) == "RUNNING"


def test_record_without_a_job_id_takes_the_webhooks(local_webhook: LocalWebhook) -> None:
    job = local_webhook.start_job(job_id="")

    response = local_webhook.deliver(
        job.callback_token, body("completed.json", id="job-from-runpod")
    )

    assert response["statusCode"] == 200
    record = local_webhook.record(job.callback_token)
    assert record is not None
    assert record["job_id"] == "job-from-runpod"


def test_unknown_callback_token_is_not_found_and_creates_nothing(
    local_webhook: LocalWebhook, sent_tasks: list[str]
) -> None:
    response = local_webhook.deliver("no-such-token", body("completed.json"))

    assert response["statusCode"] == 404
    assert local_webhook.all_records() == []
    assert sent_tasks == []


BAD_BODIES = [
    pytest.param("not json", id="not-json"),
    pytest.param("", id="empty"),
    pytest.param("[1, 2]", id="array"),
    pytest.param('"COMPLETED"', id="string"),
    pytest.param({"id": "runpod-job-123"}, id="status-missing"),
    pytest.param({"id": "runpod-job-123", "status": 3}, id="status-not-string"),
    pytest.param({"id": "runpod-job-123", "status": "IN_PROGRESS"}, id="status-not-terminal"),
    pytest.param({"id": "runpod-job-123", "status": "completed"}, id="status-lowercase"),
    pytest.param({"id": 123, "status": "COMPLETED"}, id="id-not-string"),
    pytest.param({"status": "COMPLETED"}, id="id-missing"),
    pytest.param('{"id": "j", "status": "COMPLETED", "output": NaN}', id="nan"),
    pytest.param('{"id": "j", "status": "COMPLETED", "output": Infinity}', id="infinity"),
    pytest.param('{"id": "j", "status": "COMPLETED", "output": -Infinity}', id="minus-infinity"),
    pytest.param("[" * 100_000 + "]" * 100_000, id="deeply-nested"),
]


@pytest.mark.parametrize("bad_body", BAD_BODIES)
def test_bad_body_is_rejected_and_changes_nothing(
    local_webhook: LocalWebhook, sent_tasks: list[str], bad_body: object
) -> None:
    job = local_webhook.start_job()
    before = local_webhook.record(job.callback_token)

    response = local_webhook.deliver(job.callback_token, bad_body)

    assert response["statusCode"] == 400
    assert "message" in response_json(response)
    assert local_webhook.record(job.callback_token) == before
    assert sent_tasks == []


@pytest.mark.parametrize("token", ["has space", "a" * 129, "semi;colon", "quote'd", "ünïcode"])
def test_malformed_callback_token_is_rejected(local_webhook: LocalWebhook, token: str) -> None:
    response = local_webhook.deliver(token, body("completed.json"))

    assert response["statusCode"] == 400
    assert local_webhook.all_records() == []


def test_base64_encoded_body_is_decoded(local_webhook: LocalWebhook) -> None:
    job = local_webhook.start_job()

    response = local_webhook.deliver(
        job.callback_token, body("completed.json"), base64_encoded=True
    )

    assert response["statusCode"] == 200
    assert local_webhook.execution(job)["status"] == "SUCCEEDED"


def test_task_no_longer_waiting_is_gone_and_stays_gone(
    local_webhook: LocalWebhook, sent_tasks: list[str]
) -> None:
    job = local_webhook.start_job(impatient=True)
    assert local_webhook.execution(job)["status"] == "FAILED"  # States.Timeout

    first = local_webhook.deliver(job.callback_token, body("completed.json"))
    second = local_webhook.deliver(job.callback_token, body("completed.json"))

    assert (first["statusCode"], second["statusCode"]) == (410, 410)
    record = local_webhook.record(job.callback_token)
    assert record is not None
    assert record["status"] == "EXPIRED"
    assert sent_tasks == ["SendTaskSuccess"]


def test_delivery_in_flight_is_a_conflict(
    local_webhook: LocalWebhook, webhook_function: object
) -> None:
    from runpod_callbacks.callback_records import CallbackRecords
    from runpod_callbacks.record_table import RecordTable

    job = local_webhook.start_job()
    table = RecordTable(local_webhook.dynamodb, local_webhook.table_name)
    CallbackRecords(table).claim(job.callback_token, "runpod-job-123")

    response = local_webhook.deliver(job.callback_token, body("completed.json"))

    assert response["statusCode"] == 409
    assert local_webhook.status_now(job) == "RUNNING"


def test_floats_and_unicode_are_forwarded_and_stored_faithfully(
    local_webhook: LocalWebhook,
) -> None:
    job = local_webhook.start_job()
    output = {
        "scores": [0.1, 0.2, 1e-7, 2.5e10, -0.0, 1.0, 123456789.123456789],
        "ratio": 1 / 3,
        "count": 10**20,
        "caption": "Café ☕ — 東京 🚀",
        "nested": {"deep": [{"x": 3.14159}]},
    }

    response = local_webhook.deliver(job.callback_token, body("completed.json", output=output))

    assert response["statusCode"] == 200
    forwarded = json.loads(local_webhook.execution(job)["output"])["output"]
    assert forwarded == output
    record = local_webhook.record(job.callback_token)
    assert record is not None
    stored = record["result"]["output"]
    assert [float(score) for score in stored["scores"]] == output["scores"]
    assert float(stored["ratio"]) == output["ratio"]
    assert stored["count"] == 10**20
    assert stored["caption"] == output["caption"]


def test_numbers_dynamodb_cannot_hold_are_forwarded_and_only_omitted_from_the_record(
    local_webhook: LocalWebhook,
) -> None:
    job = local_webhook.start_job()
    output = {"huge": 10**50, "weird key": {"": 1}}

    response = local_webhook.deliver(job.callback_token, body("completed.json", output=output))

    assert response["statusCode"] == 200
    assert json.loads(local_webhook.execution(job)["output"])["output"] == output
    record = local_webhook.record(job.callback_token)
    assert record is not None
    assert record["status"] == "COMPLETED"
    assert "output" not in record["result"]
    assert record["result"]["output_omitted"]


def test_huge_error_message_is_cut_in_the_record(local_webhook: LocalWebhook) -> None:
    job = local_webhook.start_job()

    response = local_webhook.deliver(job.callback_token, body("failed.json", error="E" * 500_000))

    assert response["statusCode"] == 200
    assert local_webhook.execution_error(job) == "RunPod.FAILED"
    record = local_webhook.record(job.callback_token)
    assert record is not None
    assert len(record["result"]["error"]) <= 4096


EXACT_NUMBERS = (
    '{"beyond_double": 1e309, "money": 12345678901234567.89, "pi": 3.14159265358979323846,'
    ' "tiny": 1E-7, "negative_zero": -0.0, "long_int": 123456789012345678901234567890,'
    ' "as_written": [1.50, 2e0, 0.1]}'
)


def _raw_body(output_json: str, **fields: str) -> str:
    members = {"id": '"runpod-job-123"', "status": '"COMPLETED"', **fields}
    return (
        "{"
        + ", ".join(f'"{name}": {text}' for name, text in members.items())
        + (f', "output": {output_json}' + "}")
    )


def test_numbers_reach_the_task_with_their_exact_decimal_value(
    local_webhook: LocalWebhook, sent_tasks: SentTasks
) -> None:
    job = local_webhook.start_job()

    response = local_webhook.deliver(job.callback_token, _raw_body(EXACT_NUMBERS))

    assert response["statusCode"] == 200
    assert sent_tasks.output()["output"] == json.loads(EXACT_NUMBERS, parse_float=Decimal)
    assert '"money": 12345678901234567.89' in sent_tasks.requests[0]["output"]  # verbatim
    assert local_webhook.execution(job)["status"] == "SUCCEEDED"
    record = local_webhook.record(job.callback_token)
    assert record is not None
    assert record["status"] == "COMPLETED"
    assert "too large" not in str(record["result"].get("output_omitted", ""))


def test_numbers_dynamodb_can_hold_are_stored_exactly(local_webhook: LocalWebhook) -> None:
    job = local_webhook.start_job()
    output = '{"money": 12345678901234567.89, "pi": 3.14159265358979323846, "big": 1e40}'

    local_webhook.deliver(job.callback_token, _raw_body(output))

    record = local_webhook.record(job.callback_token)
    assert record is not None
    assert record["result"]["output"] == {
        "money": Decimal("12345678901234567.89"),
        "pi": Decimal("3.14159265358979323846"),
        "big": Decimal("1e40"),
    }


def test_lone_surrogate_reaches_the_task_as_its_escape(
    local_webhook: LocalWebhook, sent_tasks: SentTasks
) -> None:
    job = local_webhook.start_job()
    output = '{"segment": "seg_caf\\udce9.mp4"}'  # os.fsdecode of a Latin-1 file name

    response = local_webhook.deliver(job.callback_token, _raw_body(output))

    assert response["statusCode"] == 200
    assert "seg_caf\\udce9.mp4" in sent_tasks.requests[0]["output"]
    assert sent_tasks.output()["output"] == {"segment": "seg_caf\udce9.mp4"}
    assert local_webhook.execution(job)["status"] == "SUCCEEDED"
    record = local_webhook.record(job.callback_token)
    assert record is not None
    assert record["status"] == "COMPLETED"
    assert "lease_expires_at" not in record
    assert "UTF-8" in record["result"]["output_omitted"]


def test_lone_surrogate_in_runpods_error_is_stored_as_its_escape(
    local_webhook: LocalWebhook, sent_tasks: SentTasks
) -> None:
    job = local_webhook.start_job()
    raw = '{"id": "runpod-job-123", "status": "FAILED", "error": "cannot open caf\\udce9.mp4"}'

    response = local_webhook.deliver(job.callback_token, raw)

    assert response["statusCode"] == 200
    assert json.loads(sent_tasks.failure()["cause"])["error"] == "cannot open caf\udce9.mp4"
    record = local_webhook.record(job.callback_token)
    assert record is not None
    assert record["result"]["error"] == "cannot open caf\\udce9.mp4"


@pytest.mark.parametrize(
    ("delay", "execution", "stored_delay", "stored_execution"),
    [
        ("1e200", "1e-200", "1E+200", "1E-200"),
        ("10000000000000000000000000000000000000000", "7", Decimal("1e40"), Decimal(7)),
        ("-5", "2.5", Decimal(-5), Decimal("2.5")),
    ],
)
def test_timings_dynamodb_cannot_hold_never_stop_the_record_from_finishing(
    local_webhook: LocalWebhook,
    sent_tasks: SentTasks,
    delay: str,
    execution: str,
    stored_delay: object,
    stored_execution: object,
) -> None:
    job = local_webhook.start_job()
    raw = _raw_body('{"ok": true}', delayTime=delay, executionTime=execution)

    first = local_webhook.deliver(job.callback_token, raw)
    second = local_webhook.deliver(job.callback_token, raw)

    assert (first["statusCode"], second["statusCode"]) == (200, 200)
    assert sent_tasks == ["SendTaskSuccess"]
    output = sent_tasks.output()
    assert (output["delay_time_ms"], output["execution_time_ms"]) == (
        Decimal(delay),
        Decimal(execution),
    )
    record = local_webhook.record(job.callback_token)
    assert record is not None
    assert record["status"] == "COMPLETED"
    assert record["result"]["delay_time_ms"] == stored_delay
    assert record["result"]["execution_time_ms"] == stored_execution


NOT_TEXT = [
    pytest.param(
        b'{"id": "runpod-job-123", "status": "COMPLETED", "output": "\xff"}', id="latin-1"
    ),
    pytest.param(b"\xfe\xff\x00{", id="utf-16-bom"),
    pytest.param(
        '{"id": "runpod-job-123", "status": "COMPLETED", "output": "\udcff"}',
        id="raw-lone-surrogate",
    ),
]


@pytest.mark.parametrize("raw", NOT_TEXT)
def test_body_that_is_not_utf8_is_rejected_and_changes_nothing(
    local_webhook: LocalWebhook, sent_tasks: SentTasks, raw: object
) -> None:
    job = local_webhook.start_job()
    before = local_webhook.record(job.callback_token)

    response = local_webhook.deliver(job.callback_token, raw)

    assert response["statusCode"] == 400
    assert response_json(response)["message"] == "body is not valid UTF-8"
    assert local_webhook.record(job.callback_token) == before
    assert sent_tasks == []


def test_body_marked_base64_that_is_not_base64_is_rejected(
    local_webhook: LocalWebhook, sent_tasks: SentTasks
) -> None:
    job = local_webhook.start_job()
    event = webhook_event(job.callback_token, json.dumps(body("completed.json")))
    event["isBase64Encoded"] = True  # but the body is plain JSON text

    response = local_webhook.function.lambda_handler(event, LocalLambdaContext())

    assert response["statusCode"] == 400
    assert "base64" in response_json(response)["message"]
    assert sent_tasks == []


def test_failure_cause_keeps_as_much_of_runpods_message_as_fits(
    local_webhook: LocalWebhook, sent_tasks: SentTasks
) -> None:
    job = local_webhook.start_job()
    message = '"\\' * 20_000  # 40,000 characters that JSON writes as two each

    response = local_webhook.deliver(job.callback_token, body("failed.json", error=message))

    assert response["statusCode"] == 200
    cause = sent_tasks.failure()["cause"]
    assert len(cause.encode("utf-16-le")) // 2 <= 32_768
    kept = json.loads(cause)["error"]
    assert kept.endswith("…[truncated]")
    assert message.startswith(kept.removesuffix("…[truncated]"))
    assert len(kept) > 16_000  # about all that fits: each character takes two
    assert local_webhook.execution_error(job) == "RunPod.FAILED"
