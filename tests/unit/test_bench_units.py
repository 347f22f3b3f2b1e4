"""The request units and prices `make bench` turns its counts into, on items of known sizes."""

import pytest

from bench import aws_cost
from bench.dynamodb_units import (
    GlobalIndex,
    index_write_units,
    item_size,
    query_read_units,
    write_units,
)

INDEX = GlobalIndex(
    name="pending_shard-created_at",
    table_key=("callback_token",),
    index_key=("pending_shard", "created_at"),
    projected=("job_id", "endpoint_id", "task_token", "runpod_forgets_at"),
)
PENDING = {
    "callback_token": {"S": "abc"},
    "status": {"S": "PENDING"},
    "pending_shard": {"S": "7"},
    "created_at": {"S": "2026-11-30T07:56:55.000Z"},
    "job_id": {"S": ""},
    "task_token": {"S": "token"},
    "lease_id": {"S": "lease-1"},
}


def sized(total_bytes: int) -> dict[str, dict[str, str]]:
    """An item of exactly ``total_bytes``: one attribute named "x"."""
    return {"x": {"S": "a" * (total_bytes - 1)}}


def test_item_size_counts_names_values_and_document_overheads() -> None:
    assert item_size({"name": {"S": "héllo"}}) == 4 + 6  # UTF-8 bytes of both
    assert item_size({"n": {"N": "12345"}}) == 1 + 3 + 1  # 5 significant digits: 3 bytes + 1
    assert item_size({"n": {"N": "-1.500"}}) == 1 + 1 + 1  # trailing zeros trimmed: "15"
    assert item_size({"f": {"BOOL": True}, "g": {"NULL": True}}) == 2 + 2
    # a map: 3 bytes, and per element 1 byte + its name + its value
    assert item_size({"m": {"M": {"ab": {"S": "xyz"}}}}) == 1 + 3 + 1 + 2 + 3
    assert item_size({"l": {"L": [{"S": "xy"}, {"N": "7"}]}}) == 1 + 3 + (1 + 2) + (1 + 2)
    assert item_size({"s": {"SS": ["ab", "c"]}}) == 1 + 3


def test_a_one_and_a_half_kilobyte_write_costs_two_units() -> None:
    assert write_units(None, sized(1536)) == 2


def test_a_write_costs_at_least_one_unit_and_rounds_each_started_kilobyte_up() -> None:
    assert write_units(None, sized(10)) == 1
    assert write_units(None, sized(1024)) == 1
    assert write_units(None, sized(1025)) == 2


def test_an_update_costs_the_larger_of_the_item_before_and_after() -> None:
    assert write_units(sized(3000), sized(500)) == 3
    assert write_units(sized(500), sized(3000)) == 3


def test_a_new_indexed_item_writes_the_index_once() -> None:
    assert index_write_units(None, PENDING, INDEX) == 1


def test_a_changed_index_key_writes_the_index_twice() -> None:
    moved = {**PENDING, "pending_shard": {"S": "8"}}
    assert index_write_units(PENDING, moved, INDEX) == 2


def test_a_record_leaving_pending_leaves_the_index_with_one_write() -> None:
    completed = {name: value for name, value in PENDING.items() if name != "pending_shard"}
    assert index_write_units(PENDING, {**completed, "status": {"S": "COMPLETED"}}, INDEX) == 1


def test_a_changed_projected_attribute_writes_the_index_once() -> None:
    with_job = {**PENDING, "job_id": {"S": "job-1"}}
    assert index_write_units(PENDING, with_job, INDEX) == 1


def test_an_attribute_the_index_does_not_hold_writes_no_index() -> None:
    claimed = {**PENDING, "lease_id": {"S": "lease-2"}}
    assert index_write_units(PENDING, claimed, INDEX) == 0


def test_an_item_without_the_index_keys_writes_no_index() -> None:
    unindexed = {name: value for name, value in PENDING.items() if name != "created_at"}
    assert index_write_units(None, unindexed, INDEX) == 0


def test_an_index_entry_is_sized_by_its_keys_and_projection_only() -> None:
    big_but_unprojected = {**PENDING, "result": {"S": "r" * 5000}}
    assert index_write_units(None, big_but_unprojected, INDEX) == 1


def test_an_eventually_consistent_query_pays_half_a_unit_per_started_4_kb() -> None:
    assert query_read_units([]) == 0.5  # the partition searched, even when nothing is found
    assert query_read_units([sized(3000), sized(2000)]) == 1.0  # 5,000 bytes: two 4 KB units
    assert query_read_units([sized(3000), sized(2000)], consistent=True) == 2.0


def test_lambda_cpu_scales_with_memory_up_to_one_vcpu() -> None:
    assert aws_cost.billed_ms(10, 5, aws_cost.ONE_VCPU_MB) == 15
    assert aws_cost.billed_ms(10, 5, 3538) == 15  # more memory, no faster single thread
    assert aws_cost.billed_ms(10, 0, 128) == 139  # 10 ms * 1,769 / 128, rounded up


def test_lambda_bills_a_request_and_gigabyte_seconds() -> None:
    one_gb_second = aws_cost.Invocation(memory_mb=1024, duration_ms=1000)
    assert aws_cost.lambda_cost(one_gb_second) == pytest.approx(
        aws_cost.LAMBDA_PER_REQUEST + aws_cost.LAMBDA_ARM_PER_GB_SECOND
    )
    assert aws_cost.lambda_duration_cost(one_gb_second, 2) == pytest.approx(
        2 * aws_cost.LAMBDA_ARM_PER_GB_SECOND
    )


def test_dynamodb_storage_counts_the_per_item_overhead() -> None:
    one_kib_for_a_month = aws_cost.dynamodb_storage_cost(924, aws_cost.DAYS_PER_MONTH)
    assert one_kib_for_a_month == pytest.approx(aws_cost.DYNAMODB_PER_GB_MONTH / 2**20)
