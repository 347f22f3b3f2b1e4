"""The webhook's body read as text, and as one finished job of RunPod's."""

import base64

import pytest

from runpod_callbacks.errors import InvalidWebhook
from runpod_callbacks.job_status import body_text, parse_ended_job


def test_text_and_base64_bodies_read_the_same() -> None:
    text = '{"id": "job-1", "status": "COMPLETED", "output": "café"}'
    encoded = base64.b64encode(text.encode()).decode()

    assert body_text(text, base64_encoded=False) == body_text(encoded, base64_encoded=True) == text


@pytest.mark.parametrize(
    ("body", "base64_encoded", "reason"),
    [
        ('{"output": "\udcff"}', False, "not valid UTF-8"),  # a raw lone surrogate: not UTF-8
        (base64.b64encode(b'{"output": "\xff"}').decode(), True, "not valid UTF-8"),
        ('{"id": "job-1"}', True, "not base64"),
        ("%%%", True, "not base64"),
    ],
)
def test_bodies_that_are_not_text_are_invalid(body: str, base64_encoded: bool, reason: str) -> None:
    with pytest.raises(InvalidWebhook, match=reason):
        body_text(body, base64_encoded=base64_encoded)


@pytest.mark.parametrize("status", ["IN_QUEUE", "IN_PROGRESS", "completed", ""])
def test_a_webhook_reports_a_finished_job_only(status: str) -> None:
    with pytest.raises(InvalidWebhook, match="status must be one of"):
        parse_ended_job(f'{{"id": "job-1", "status": "{status}"}}')


@pytest.mark.parametrize("job_id", ["", "x" * 257, "tab\\there", "caf\\udce9"])
def test_job_ids_are_short_printable_text(job_id: str) -> None:
    with pytest.raises(InvalidWebhook, match="id must be"):
        parse_ended_job(f'{{"id": "{job_id}", "status": "COMPLETED"}}')


def test_runpods_error_is_kept_as_text_whatever_its_json_type() -> None:
    job = parse_ended_job('{"id": "j", "status": "FAILED", "error": {"code": 137, "oom": true}}')

    assert job.error_message == '{"code": 137, "oom": true}'
