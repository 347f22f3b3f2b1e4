"""The RunPod API key read from its secret: trimmed, checked, and never repeated in an error."""

import json

import pytest

from runpod_callbacks.api_key import parse_api_key
from runpod_callbacks.errors import ApiKeyUnavailable

KEY = "rp_0123456789abcdefABCDEF"


@pytest.mark.parametrize(
    "secret",
    [
        KEY,
        f"\n {KEY}\n",
        json.dumps({"api_key": KEY}),
        json.dumps({"api_key": f"{KEY}\n"}),
        json.dumps({"RUNPOD_API_KEY": KEY, "note": "prod"}),
        json.dumps({"anything": KEY}),
    ],
)
def test_key_is_found_and_trimmed(secret: str) -> None:
    assert parse_api_key(secret) == KEY


@pytest.mark.parametrize(
    "secret",
    [
        "",
        "   ",
        f"{KEY}\n{KEY}",
        f"{KEY} {KEY}",
        f"{KEY}\x00",
        f"{KEY}é",
        '{"api_key": ',
        "{}",
        json.dumps({"a": KEY, "b": KEY + "x"}),
    ],
)
def test_unusable_secrets_are_refused_by_errors_that_never_repeat_the_key(secret: str) -> None:
    with pytest.raises(ApiKeyUnavailable) as raised:
        parse_api_key(secret)

    assert KEY not in str(raised.value)
    assert raised.value.__cause__ is None
