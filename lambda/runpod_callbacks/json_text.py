"""RunPod's JSON kept exact: numbers as written, values' text verbatim, text that AWS can carry.

Python's ``json`` turns ``12345678901234567.89`` into a rounded float and ``1e309`` into infinity.
Here non-integer numbers parse as ``Decimal``, and each member of the top-level object keeps the
text it was written with, so RunPod's ``output`` reaches the task exactly as RunPod wrote it.

A member too large for the record (a result of megabytes) is checked to be JSON, but not turned
into Python values: millions of numbers as Decimals would take gigabytes.
"""

import json
import re
from decimal import Decimal
from typing import Any, NamedTuple

from runpod_callbacks.errors import NotAnObject

# int() refuses longer digit strings (Python's int/str conversion limit is 4,300 digits).
MAX_INT_DIGITS = 4000
# Containers longer than this are only checked, not parsed (the record keeps none so large).
MAX_PARSED_CHARACTERS = 64 * 1024
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_SURROGATE = re.compile("[\ud800-\udfff]")


class NumberBeyondDecimal(str):
    """A valid JSON number whose exponent even Decimal cannot hold (``1e99999999999999999999``).

    Its text travels unchanged in the member's text; as a value it is nothing DynamoDB or a
    metric takes (dynamodb_values refuses it), so nothing rounds it.
    """


def _number(text: str) -> Decimal | NumberBeyondDecimal:
    try:
        return Decimal(text)
    except ArithmeticError:  # decimal.InvalidOperation: the exponent is beyond Decimal's range
        return NumberBeyondDecimal(text)


def _integer(text: str) -> int | Decimal:
    return int(text) if len(text) <= MAX_INT_DIGITS else Decimal(text)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


_decoder = json.JSONDecoder(
    parse_float=_number, parse_int=_integer, parse_constant=_reject_constant
)

# JSON's tokens, for a check that builds no values (value_end). Runs of scalars in an array, or of
# members with scalar values in an object, are matched at once.
_STRING = r'"[^"\\\x00-\x1f]*(?:\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4})[^"\\\x00-\x1f]*)*"'
_SCALAR = (  # and empty containers, which hold nothing to check
    rf"(?:{_STRING}|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?|true|false|null"
    r"|\[[ \t\n\r]*\]|\{[ \t\n\r]*\})"
)
_SCALAR_TOKEN = re.compile(_SCALAR)
_SCALARS = re.compile(rf"{_SCALAR}(?:[ \t\n\r]*,[ \t\n\r]*{_SCALAR})*+")
_NAME = re.compile(rf"{_STRING}[ \t\n\r]*:[ \t\n\r]*")
_SCALAR_MEMBERS = re.compile(
    rf"{_STRING}[ \t\n\r]*:[ \t\n\r]*{_SCALAR}"
    rf"(?:[ \t\n\r]*,[ \t\n\r]*{_STRING}[ \t\n\r]*:[ \t\n\r]*{_SCALAR})*+"
)


class Unparsed:
    """Stands for a member's value that was checked but not parsed (see MAX_PARSED_CHARACTERS)."""


UNPARSED = Unparsed()


class Member(NamedTuple):
    """One member of a JSON object: its value (numbers exact; UNPARSED when it is a container
    over MAX_PARSED_CHARACTERS) and its text as written."""

    value: Any
    text: str


def parse_object(text: str) -> dict[str, Member]:
    """The members of a document that is one JSON object (the last of duplicate names wins).

    Raises NotAnObject for any other document, json.JSONDecodeError (a ValueError) for text that
    is not JSON, RecursionError when nested too deeply.
    """
    index = _skip_whitespace(text, 0)
    if text[index : index + 1] != "{":
        raise NotAnObject("not a JSON object")
    members: dict[str, Member] = {}
    index = _skip_whitespace(text, index + 1)
    closed = text[index : index + 1] == "}"
    while not closed:
        name, index = _decoder.raw_decode(text, index)
        if not isinstance(name, str):
            raise json.JSONDecodeError("member names must be strings", text, index)
        index = _expect(text, index, ":")
        start = _skip_whitespace(text, index)
        value, index = _member_value(text, start)
        members[name] = Member(value, text[start:index])
        index = _skip_whitespace(text, index)
        closed = text[index : index + 1] == "}"
        if not closed:
            index = _skip_whitespace(text, _expect(text, index, ","))
    end = _skip_whitespace(text, index + 1)
    if end != len(text):
        raise json.JSONDecodeError("extra data after the object", text, end)
    return members


def _member_value(text: str, start: int) -> tuple[Any, int]:
    if text[start : start + 1] not in ("[", "{"):
        return _decoder.raw_decode(text, start)
    end = value_end(text, start)
    if end - start > MAX_PARSED_CHARACTERS:
        return UNPARSED, end
    return _decoder.raw_decode(text, start)


def value_end(text: str, start: int) -> int:
    """Where the JSON value at ``start`` ends; a json.JSONDecodeError where it is not JSON.

    It builds no value (only the nesting of the containers open), so a value of megabytes is
    checked in the memory of its text: the json module would build a list per array.
    """
    closers: list[str] = []
    index, expect_value = start, True
    while True:
        if not (closers or expect_value):
            return index
        index = _skip_whitespace(text, index)
        character = text[index : index + 1]
        if expect_value:
            if character in ("[", "{"):
                closer = "]" if character == "[" else "}"
                inner = _skip_whitespace(text, index + 1)
                if text[inner : inner + 1] == closer:
                    index, expect_value = inner + 1, False
                    continue
                closers.append(closer)
                index, expect_value = _first_of(text, inner, closer)
                continue
            token = _SCALAR_TOKEN.match(text, index)
            if token is None:
                raise json.JSONDecodeError("expected a value", text, index)
            index, expect_value = token.end(), False
        elif character == closers[-1]:
            closers.pop()
            index += 1
        elif character == ",":
            index, expect_value = _first_of(text, _skip_whitespace(text, index + 1), closers[-1])
        else:
            raise json.JSONDecodeError(f"expected ',' or {closers[-1]!r}", text, index)


def _first_of(text: str, index: int, closer: str) -> tuple[int, bool]:
    """Past a run of scalars (an array's) or of scalar members (an object's) at ``index``, if
    any; else past a member's name. Returns the index and whether a value comes next."""
    run = (_SCALARS if closer == "]" else _SCALAR_MEMBERS).match(text, index)
    if run is not None:
        return run.end(), False
    if closer == "]":
        return index, True
    name = _NAME.match(text, index)
    if name is None:
        raise json.JSONDecodeError("expected a member's name", text, index)
    return name.end(), True


def utf8_length(text: str) -> int:
    """Bytes of the text as UTF-8, without a copy when it is ASCII (most JSON is)."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _skip_whitespace(text: str, index: int) -> int:
    match = _WHITESPACE.match(text, index)
    return match.end() if match else index


def _expect(text: str, index: int, character: str) -> int:
    index = _skip_whitespace(text, index)
    if text[index : index + 1] != character:
        raise json.JSONDecodeError(f"expected {character!r}", text, index)
    return index + 1


def to_json(value: Any) -> str:
    """Compact JSON of strings, lists, dicts and plain numbers; never a raw lone surrogate.

    A string with a lone surrogate (``"caf\\udce9"``, what Python makes of a non-UTF-8 file name)
    keeps it as its escape, which is valid JSON that every UTF-8 transport can carry.
    """
    return carried_text(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def number_json(value: int | Decimal | None) -> str:
    """A number exactly (``str`` of int and Decimal is valid JSON for finite values), or null."""
    return "null" if value is None else str(value)


def object_json(members: dict[str, str]) -> str:
    """A JSON object from member names and their values' JSON text, in the given order."""
    return "{" + ",".join(f"{to_json(name)}:{text}" for name, text in members.items()) + "}"


def carried_text(text: str) -> str:
    """The text with lone surrogates written as their escapes, so it is valid UTF-8."""
    return _SURROGATE.sub(lambda match: f"\\u{ord(match.group()):04x}", text)


def is_utf8(text: str) -> bool:
    """Whether the text can be written as UTF-8: it holds no lone surrogate."""
    return _SURROGATE.search(text) is None


def utf16_length(text: str) -> int:
    """Length in UTF-16 code units, as Step Functions counts a failure's cause."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2
