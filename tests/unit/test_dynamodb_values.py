"""Values DynamoDB can hold are stored exactly; the others are refused before the write."""

from decimal import Decimal

import pytest

from runpod_callbacks.dynamodb_values import dynamodb_number, to_attribute


@pytest.mark.parametrize(
    ("number", "stored"),
    [
        (Decimal("12345678901234567.89"), "12345678901234567.89"),
        (10**40, "1E+40"),
        (Decimal("1.50"), "1.5"),
        (Decimal("-0.0"), "0"),
        (0.1, "0.1"),
        (
            Decimal("9.9999999999999999999999999999999999999E+125"),
            "9.9999999999999999999999999999999999999E+125",
        ),
        (Decimal("1E-130"), "1E-130"),
    ],
)
def test_numbers_are_stored_with_their_exact_value(number: object, stored: str) -> None:
    assert dynamodb_number(number) == stored  # type: ignore[arg-type]
    assert Decimal(stored) == Decimal(str(number))


@pytest.mark.parametrize(
    "number",
    [
        Decimal("1e126"),
        Decimal("1e-131"),
        Decimal("1e309"),
        Decimal("1." + "1" * 38),
        Decimal("NaN"),
    ],
)
def test_numbers_out_of_dynamodbs_range_or_precision_are_refused(number: Decimal) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        dynamodb_number(number)


def _nested(levels: int) -> object:
    value: object = "leaf"
    for _ in range(levels):
        value = {"n": value}
    return value


@pytest.mark.parametrize(
    "value",
    [{"": 1}, "caf\udce9", {"caf\udce9": 1}, _nested(32)],
    ids=["empty-key", "lone-surrogate", "lone-surrogate-key", "too-deep"],
)
def test_values_dynamodb_would_refuse_are_refused_here(value: object) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        to_attribute(value)


def test_documents_as_deep_as_dynamodb_allows_are_stored() -> None:
    assert to_attribute(_nested(31))  # 31 maps and the string inside them: 32 levels
