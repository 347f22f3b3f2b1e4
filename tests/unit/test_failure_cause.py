"""The failure cause: valid JSON, within Step Functions' 32,768 characters, as much kept as fits."""

import json

import pytest

from runpod_callbacks.json_text import to_json, utf16_length
from runpod_callbacks.task_outcome import MAX_CAUSE_LENGTH, TRUNCATED, fit_cause

SHORTEN = ("error", "segment_filename", "exec_id")


def cause_with(error: str, **fields: str) -> dict[str, str | None]:
    return {"job_id": "job-1", "status": "FAILED", "error": error, "exec_id": "e", **fields}


@pytest.mark.parametrize(
    "unit",
    ['"', "\\", "\n", "\x01", "é", "😀", "\udce9", "a"],
    ids=["quote", "backslash", "newline", "control", "accent", "emoji", "lone-surrogate", "ascii"],
)
def test_cause_keeps_the_longest_prefix_of_the_message_that_fits(unit: str) -> None:
    message = unit * 40_000

    cause = fit_cause(cause_with(message), SHORTEN)

    assert utf16_length(cause) <= MAX_CAUSE_LENGTH
    kept = json.loads(cause)["error"].removesuffix(TRUNCATED)
    assert message.startswith(kept)
    one_more = to_json(cause_with(message[: len(kept) + 1] + TRUNCATED))
    assert utf16_length(one_more) > MAX_CAUSE_LENGTH  # nothing more would have fitted


def test_cause_that_fits_is_left_whole() -> None:
    cause = fit_cause(cause_with("Out of memory"), SHORTEN)

    assert json.loads(cause)["error"] == "Out of memory"


def test_record_fields_are_shortened_only_when_they_alone_overflow() -> None:
    huge_name = "n" * 50_000

    cause = fit_cause(cause_with("Out of memory", segment_filename=huge_name), SHORTEN)

    document = json.loads(cause)
    assert utf16_length(cause) <= MAX_CAUSE_LENGTH
    assert document["error"] == TRUNCATED  # the message goes first, then the long field
    assert document["segment_filename"].startswith("n" * 30_000)
    assert document["job_id"] == "job-1"
