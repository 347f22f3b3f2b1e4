"""Python values to DynamoDB attribute values and back, floats included."""

from collections.abc import Mapping
from decimal import Decimal, DecimalException
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


# DynamoDB nests documents 32 levels deep; the attribute itself is one of them.
MAX_NESTED_LEVELS = 31


def to_attribute(value: Any) -> Any:
    """Serialize, storing floats as the Decimal of their shortest repr (DynamoDB rejects floats).

    Raises ValueError for what DynamoDB would refuse: a number over 38 digits or out of range,
    an empty map key, nesting deeper than DynamoDB allows.
    """
    try:
        return _serializer.serialize(_with_decimals(value, MAX_NESTED_LEVELS))
    except DecimalException as error:
        raise ValueError("number not representable in DynamoDB") from error


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {name: _deserializer.deserialize(value) for name, value in item.items()}


def _with_decimals(value: Any, levels_left: int) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict | list) and levels_left == 0:
        raise ValueError("nested deeper than DynamoDB allows")
    if isinstance(value, dict):
        if "" in value:
            raise ValueError("DynamoDB map keys cannot be empty")
        return {key: _with_decimals(item, levels_left - 1) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_decimals(item, levels_left - 1) for item in value]
    return value
