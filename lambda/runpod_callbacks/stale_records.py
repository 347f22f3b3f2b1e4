"""The watchdog's view of the callback records: the stale PENDING ones, and where it stopped.

Found through the ``pending_shard-created_at`` index, never a Scan: each of the PENDING_SHARDS
shards is queried oldest first, page by page as the caller consumes them, and the shards are
merged into one stream in (created_at, callback_token) order. Finished records have no
``pending_shard``, so the index holds PENDING records only.
"""

import heapq
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from runpod_callbacks.dynamodb_values import from_item, to_attribute
from runpod_callbacks.record_table import PENDING_SHARD, PENDING_SHARDS, RecordTable, record_key

STALE_INDEX = "pending_shard-created_at"
QUERY_PAGE = 500
# The watchdog's place in the stale records between runs. No callback token can name this item
# ('#' is outside the token's characters) and, with no pending_shard, the index never lists it.
WATCHDOG_CURSOR = "#watchdog-cursor"


class IndexKey(NamedTuple):
    """A record's place in the stale records' order."""

    created_at: str
    callback_token: str


def index_key(record: Mapping[str, Any]) -> IndexKey:
    return IndexKey(str(record["created_at"]), str(record["callback_token"]))


class StaleRecords:
    def __init__(self, table: RecordTable) -> None:
        self._table = table

    def stale_pending(
        self,
        created_before: str,
        *,
        start_at: IndexKey | None = None,
        stop_before: IndexKey | None = None,
    ) -> Iterator[dict[str, Any]]:
        """PENDING records created before the given ISO 8601 UTC time, oldest first: all of
        them, or those from ``start_at`` on, or those before ``stop_before``. Each carries the
        index's projection: keys, job_id, endpoint_id, task_token, runpod_forgets_at.

        Raises AwsUnavailable (or RecordRefused) when a page cannot be read.
        """
        shards = [
            self._shard(str(shard), created_before, start_at, stop_before)
            for shard in range(PENDING_SHARDS)
        ]
        yield from heapq.merge(*shards, key=index_key)

    def _shard(
        self,
        shard: str,
        created_before: str,
        start_at: IndexKey | None,
        stop_before: IndexKey | None,
    ) -> Iterator[dict[str, Any]]:
        if start_at is not None:
            condition = "created_at BETWEEN :low AND :high"
            bounds = {":low": start_at.created_at, ":high": created_before}
        elif stop_before is not None:
            condition = "created_at <= :high"
            bounds = {":high": stop_before.created_at}
        else:
            condition = "created_at < :high"
            bounds = {":high": created_before}
        request: dict[str, Any] = {
            "IndexName": STALE_INDEX,
            "KeyConditionExpression": f"#shard = :shard AND {condition}",
            "ExpressionAttributeNames": {"#shard": PENDING_SHARD},
            "ExpressionAttributeValues": {
                name: {"S": value} for name, value in {":shard": shard, **bounds}.items()
            },
            "Limit": QUERY_PAGE,
        }
        held: list[dict[str, Any]] = []
        while True:
            page = self._table.call("Query", **request)
            records = held + [from_item(item) for item in page.get("Items", [])]
            # Ties on created_at come in no set order, and a page may end inside a group of them:
            # sort, and hold the page's last group back until the next page has come.
            records.sort(key=index_key)
            more = "LastEvaluatedKey" in page
            held = _last_group(records) if more else []
            for record in records[: len(records) - len(held)]:
                key = index_key(record)
                if key.created_at >= created_before:
                    continue
                if (start_at is None or key >= start_at) and (
                    stop_before is None or key < stop_before
                ):
                    yield record
            if not more:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def cursor(self) -> IndexKey | None:
        """Where the last run stopped, or None to start from the oldest."""
        item = self._table.call("GetItem", Key=record_key(WATCHDOG_CURSOR), ConsistentRead=True)
        after = from_item(item["Item"]).get("after") if "Item" in item else None
        if isinstance(after, Mapping) and all(
            isinstance(after.get(n), str) for n in IndexKey._fields
        ):
            return IndexKey(after["created_at"], after["callback_token"])
        return None

    def save_cursor(self, after: IndexKey | None) -> None:
        names = {"#after": "after"}  # AFTER is one of DynamoDB's reserved words
        if after is None:
            self._table.update(
                WATCHDOG_CURSOR, UpdateExpression="REMOVE #after", ExpressionAttributeNames=names
            )
            return
        self._table.update(
            WATCHDOG_CURSOR,
            UpdateExpression="SET #after = :after",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={":after": to_attribute(after._asdict())},
        )


def _last_group(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The sorted records' last ones that share one created_at."""
    if not records:
        return []
    last = index_key(records[-1]).created_at
    first = len(records) - 1
    while first > 0 and index_key(records[first - 1]).created_at == last:
        first -= 1
    return records[first:]
