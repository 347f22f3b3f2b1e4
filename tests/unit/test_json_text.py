"""RunPod's JSON read exactly: numbers as Decimal, each member's text as written."""

import json
from decimal import Decimal

import pytest

from runpod_callbacks.json_text import NotAnObject, parse_object, to_json


def test_members_keep_their_text_and_exact_values() -> None:
    text = '{"output": {"x": 1e309, "y": [12345678901234567.89, -0.0]} , "n": 10}'

    members = parse_object(text)

    assert members["output"].text == '{"x": 1e309, "y": [12345678901234567.89, -0.0]}'
    assert members["output"].value == {
        "x": Decimal("1e309"),
        "y": [Decimal("12345678901234567.89"), Decimal("-0.0")],
    }
    assert members["n"].value == 10


def test_integers_beyond_pythons_digit_limit_parse_as_decimal() -> None:
    digits = "9" * 5000

    assert parse_object(f'{{"n": {digits}}}')["n"].value == Decimal(digits)


def test_last_of_duplicate_members_wins_as_in_json_loads() -> None:
    text = '{"a": 1, "a": 2}'

    assert parse_object(text)["a"].value == json.loads(text)["a"]


@pytest.mark.parametrize("text", ["[1]", '"x"', "", "  ", "null"])
def test_documents_that_are_not_objects_are_refused(text: str) -> None:
    with pytest.raises(NotAnObject):
        parse_object(text)


@pytest.mark.parametrize(
    "text",
    ['{"a": NaN}', '{"a": Infinity}', '{"a": 1,}', '{"a" 1}', '{"a": 1} x', "{1: 2}", "{", '{"a":'],
)
def test_text_that_is_not_json_is_refused(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - JSONDecodeError or the constant's refusal
        parse_object(text)


def test_lone_surrogates_are_written_as_escapes() -> None:
    text = to_json({"file": "caf\udce9.mp4", "emoji": "😀"})

    text.encode("utf-8")  # valid UTF-8
    assert text == '{"file":"caf\\udce9.mp4","emoji":"😀"}'
    assert json.loads(text) == {"file": "caf\udce9.mp4", "emoji": "😀"}
