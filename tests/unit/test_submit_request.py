"""The submit function's payload from the state machine: what it must hold, and why not."""

from typing import Any

import pytest

from runpod_callbacks.errors import SubmitError
from runpod_callbacks.submission import callback_token_for, parse_submit_request

VALID = {
    "task_token": "AAAAKgAAAAIAAAAAAAAAAQ==",
    "endpoint_id": "upscaler-v2",
    "input": {"segment": "s3://videos/seg_0001.mp4"},
    "exec_id": "exec-1",
    "segment_filename": "seg_0001.mp4",
}


def test_valid_payload_is_read_with_defaults() -> None:
    request = parse_submit_request(VALID)

    assert (request.endpoint_id, request.policy) == ("upscaler-v2", None)
    assert request.record_lifetime_s == 7 * 24 * 3600


@pytest.mark.parametrize(
    "change",
    [
        {"task_token": ""},
        {"task_token": "t" * 2049},
        {"task_token": "token with\nnewline"},
        {"task_token": 42},
        {"endpoint_id": "../../admin"},
        {"input": "not an object"},
        {"exec_id": ""},
        {"segment_filename": "caf\udce9.mp4"},
        {"policy": {"executionTimeout": 1000, "typo": 1}},
        {"record_lifetime_s": 5},
        {"record_lifetime_s": True},
    ],
)
def test_bad_payload_is_invalid_request(change: dict[str, Any]) -> None:
    with pytest.raises(SubmitError) as raised:
        parse_submit_request({**VALID, **change})

    assert type(raised.value).__name__ == "RunPod.InvalidRequest"


@pytest.mark.parametrize("payload", [None, [], "x"])
def test_payload_that_is_not_an_object_is_invalid_request(payload: object) -> None:
    with pytest.raises(SubmitError, match="JSON object"):
        parse_submit_request(payload)


def test_callback_token_is_stable_unguessable_and_url_safe() -> None:
    token = callback_token_for(VALID["task_token"])

    assert token == callback_token_for(VALID["task_token"])
    assert token != callback_token_for(VALID["task_token"] + "A")
    assert VALID["task_token"] not in token
    assert len(token) == 32  # 192 bits, base64url
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@pytest.mark.parametrize(
    "policy",
    [
        {"ttl": 9_999},  # RunPod takes 10 s to 7 days
        {"ttl": 7 * 24 * 3600 * 1000 + 1},
        {"ttl": "3600000"},
        {"ttl": 3600000.5},
        {"executionTimeout": 4_999},
        {"executionTimeout": True},
        {"lowPriority": "yes"},
    ],
)
def test_policy_runpod_would_refuse_is_an_invalid_request(policy: dict[str, Any]) -> None:
    with pytest.raises(SubmitError) as raised:
        parse_submit_request({**VALID, "policy": policy})

    assert type(raised.value).__name__ == "RunPod.InvalidRequest"


@pytest.mark.parametrize(
    ("policy", "shortest_lifetime_s"),
    [(None, 24 * 3600 + 1800), ({"ttl": 3_600_000}, 3600 + 1800), ({"ttl": 10_000}, 10 + 1800)],
)
def test_record_outlives_what_runpod_can_still_deliver(
    policy: dict[str, Any] | None, shortest_lifetime_s: int
) -> None:
    """The record must not be deleted by DynamoDB's TTL while the job's ttl runs, nor during
    the 30 minutes RunPod keeps its result: its webhook could still come."""
    payload = {**VALID, "policy": policy}

    accepted = parse_submit_request({**payload, "record_lifetime_s": shortest_lifetime_s})
    with pytest.raises(SubmitError, match="at least") as raised:
        parse_submit_request({**payload, "record_lifetime_s": shortest_lifetime_s - 1})

    assert accepted.record_lifetime_s == shortest_lifetime_s
    assert type(raised.value).__name__ == "RunPod.InvalidRequest"
