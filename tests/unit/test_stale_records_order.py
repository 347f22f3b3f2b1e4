"""The stale records stream in (created_at, callback_token) order, the order the watchdog's cursor
relies on, whatever order DynamoDB gives ties in. moto always returns ties sorted by the table's
key, so these pages are scripted: real DynamoDB may return a GSI's ties in any order."""

from typing import Any

import pytest

from runpod_callbacks.dynamodb_values import to_attribute
from runpod_callbacks.stale_records import IndexKey, StaleRecords

CREATED = "2026-01-01T00:00:00.000Z"
LATER = "2026-01-01T00:00:01.000Z"
BEFORE = "2026-01-02T00:00:00.000Z"


class ScriptedIndex:
    """Query pages of shard "0" as given; every other shard is empty."""

    def __init__(self, pages: list[list[tuple[str, str]]]) -> None:
        self._pages = pages

    def call(self, operation: str, **request: Any) -> dict[str, Any]:
        assert operation == "Query"
        if request["ExpressionAttributeValues"][":shard"] != {"S": "0"}:
            return {"Items": []}
        number = int(request.get("ExclusiveStartKey", {"page": {"N": "0"}})["page"]["N"])
        page: dict[str, Any] = {
            "Items": [
                {
                    "callback_token": {"S": token},
                    "created_at": {"S": created},
                    "task_token": {"S": "t"},
                }
                for created, token in self._pages[number]
            ]
        }
        if number + 1 < len(self._pages):
            page["LastEvaluatedKey"] = {"page": to_attribute(number + 1)}
        return page


TIES_ACROSS_PAGES = [
    [(CREATED, "tok7"), (CREATED, "tok3"), (CREATED, "tok9")],
    [(CREATED, "tok1"), (CREATED, "tok5"), (LATER, "tok2")],
    [(LATER, "tok0")],
]


def streamed(pages: list[list[tuple[str, str]]], **bounds: Any) -> list[str]:
    store = StaleRecords(ScriptedIndex(pages))  # type: ignore[arg-type]
    return [record["callback_token"] for record in store.stale_pending(BEFORE, **bounds)]


def test_ties_spanning_pages_come_in_index_order() -> None:
    assert streamed(TIES_ACROSS_PAGES) == ["tok1", "tok3", "tok5", "tok7", "tok9", "tok0", "tok2"]


@pytest.mark.parametrize(
    ("bounds", "expected"),
    [
        ({"start_at": IndexKey(CREATED, "tok5")}, ["tok5", "tok7", "tok9", "tok0", "tok2"]),
        ({"stop_before": IndexKey(CREATED, "tok5")}, ["tok1", "tok3"]),
    ],
    ids=["from-a-tie", "up-to-a-tie"],
)
def test_a_place_inside_a_group_of_ties_splits_it_exactly(
    bounds: dict[str, IndexKey], expected: list[str]
) -> None:
    assert streamed(TIES_ACROSS_PAGES, **bounds) == expected


def test_a_page_of_one_group_only_waits_for_the_next() -> None:
    pages = [[(CREATED, "tok4"), (CREATED, "tok2")], [(CREATED, "tok3")], [(CREATED, "tok1")]]

    assert streamed(pages) == ["tok1", "tok2", "tok3", "tok4"]
