"""RunPod's JSON read exactly: numbers as Decimal, each member's text as written."""

import json
from decimal import Decimal

import pytest

from runpod_callbacks.json_text import UNPARSED, NotAnObject, parse_object, to_json


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


def test_a_member_too_large_for_the_record_is_checked_but_not_parsed() -> None:
    """Millions of numbers as Decimals would take gigabytes: a large container keeps its exact
    text, its value is not built."""
    big = "[" + ",".join(["[1.5,2]"] * 20_000) + "]"

    members = parse_object(f'{{"output": {big}, "status": "COMPLETED"}}')

    assert members["output"].value is UNPARSED
    assert members["output"].text == big
    assert members["status"].value == "COMPLETED"


@pytest.mark.parametrize("broken", ["[1,2,]", "[NaN]", '{"a": 1,}', "[01]"])
def test_a_large_member_that_is_not_json_is_refused_all_the_same(broken: str) -> None:
    padding = ",".join(["1"] * 40_000)
    text = '{"output": [' + padding + "," + broken + "]}"

    with pytest.raises(ValueError, match=r"Expecting|is not JSON|Extra data|delimiter"):
        parse_object(text)
