"""Python values to DynamoDB attribute values and back, refusing what DynamoDB would refuse.

Numbers are stored exactly (DynamoDB keeps 38 significant digits, magnitudes 1E-130 to 1E+126);
a value DynamoDB cannot hold exactly raises ValueError here instead of failing the write.
"""

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from runpod_callbacks.json_text import NumberBeyondDecimal, is_utf8

# DynamoDB nests documents 32 levels deep; the attribute itself is one of them.
MAX_NESTED_LEVELS = 32
MAX_SIGNIFICANT_DIGITS = 38
EXPONENT_RANGE = range(-130, 126)  # of the leading digit

_deserializer = TypeDeserializer()


def to_attribute(value: Any, levels: int = MAX_NESTED_LEVELS) -> dict[str, Any]:
    """Serialize a JSON-like value (str, int, Decimal, float, bool, None, list, dict)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, NumberBeyondDecimal):
        raise ValueError("number beyond any range DynamoDB holds")
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, str):
        return {"S": _text(value)}
    if isinstance(value, int | float | Decimal):
        return {"N": dynamodb_number(value)}
    if isinstance(value, Mapping | list) and levels <= 1:
        raise ValueError("nested deeper than DynamoDB allows")
    if isinstance(value, Mapping):
        if "" in value:
            raise ValueError("DynamoDB map keys cannot be empty")
        return {"M": {_text(key): to_attribute(item, levels - 1) for key, item in value.items()}}
    if isinstance(value, list):
        return {"L": [to_attribute(item, levels - 1) for item in value]}
    raise ValueError(f"{type(value).__name__} is not a JSON value")


def dynamodb_number(value: int | float | Decimal) -> str:
    """The number as DynamoDB stores it, exactly, or ValueError when DynamoDB cannot hold it."""
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not number.is_finite():
        raise ValueError("DynamoDB holds finite numbers only")
    if number.is_zero():
        return "0"
    sign, digits, exponent_of_last = number.as_tuple()
    exponent = int(exponent_of_last)  # finite numbers have an int exponent
    significant = list(digits)
    while significant[-1] == 0:  # 1E+40 has one significant digit, not 41
        significant.pop()
        exponent += 1
    if len(significant) > MAX_SIGNIFICANT_DIGITS:
        raise ValueError(f"DynamoDB keeps at most {MAX_SIGNIFICANT_DIGITS} significant digits")
    if exponent + len(significant) - 1 not in EXPONENT_RANGE:
        raise ValueError("number out of DynamoDB's range")
    return str(Decimal((sign, tuple(significant), exponent)))


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def _text(value: str) -> str:
    if not is_utf8(value):
        raise ValueError("DynamoDB strings must be valid UTF-8 (no lone surrogates)")
    return value
