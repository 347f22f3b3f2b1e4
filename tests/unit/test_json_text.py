"""RunPod's JSON read exactly: numbers as Decimal, each member's text as written."""

import json
import tracemalloc
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runpod_callbacks.errors import NotAnObject
from runpod_callbacks.json_text import UNPARSED, parse_object, to_json, value_end


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

    with pytest.raises(json.JSONDecodeError):
        parse_object(text)


def test_a_large_member_is_checked_in_the_memory_of_its_text() -> None:
    """The json module would build a list per array: about 24 bytes of memory per byte of
    ``[[],[],...]``, a watchdog killed by one answer of tens of megabytes."""
    text = '{"id":"j","status":"COMPLETED","output":[' + "[]," * 999_999 + "[]]}"

    tracemalloc.start()
    try:
        members = parse_object(text)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert members["output"].value is UNPARSED
    assert peak < 1.5 * len(text)  # the member's text, kept, and little else


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=30,
)


@given(JSON_VALUES, st.sampled_from([None, 0, 2, 4]))
def test_the_check_ends_every_json_value_where_json_does(value: object, indent: int | None) -> None:
    text = json.dumps(value, indent=indent)

    assert value_end(text + " ,", 0) == len(text)


@given(JSON_VALUES, st.integers(min_value=0), st.sampled_from(list(',:[]{}"0eE-+.\\ xnt\x01')))
def test_the_check_refuses_exactly_what_json_refuses(
    value: object, position: int, character: str
) -> None:
    text = json.dumps(value)
    at = position % (len(text) + 1)
    mutated = text[:at] + character + text[at:]

    start = len(mutated) - len(mutated.lstrip(" \t\n\r"))  # where a member's value starts
    try:
        _, json_end = json.JSONDecoder(parse_constant=_refuse).raw_decode(mutated, start)
    except ValueError:
        json_end = None
    try:
        end: int | None = value_end(mutated, start)
    except json.JSONDecodeError:
        end = None

    assert end == json_end


def _refuse(name: str) -> None:
    raise ValueError(name)
