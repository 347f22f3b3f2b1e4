"""The watchdog's view of the callback records: the stale PENDING ones, and where it stopped.

Found through the ``status-created_at`` index (hash ``status``, range ``created_at``), never a
Scan. A run that takes as many records as it may leaves a cursor, so the next run continues past
it and every stale record is reached in turn, however many there are.
"""

from collections.abc import Iterator, Mapping
from typing import Any

from runpod_callbacks.callback_records import CallbackStore, RecordStatus, record_key
from runpod_callbacks.dynamodb_values import from_item, to_attribute

STALE_INDEX = "status-created_at"
QUERY_PAGE = 100
# The watchdog's place in the stale records between runs. No callback token can name this item
# ('#' is outside the token's characters) and, with no status, the index never lists it.
WATCHDOG_CURSOR = "#watchdog-cursor"
_INDEX_KEY = ("callback_token", "status", "created_at")


class StaleRecords(CallbackStore):
    def stale_pending(
        self, created_before: str, limit: int, after: Mapping[str, str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """PENDING records created before the given ISO 8601 UTC time, oldest first, from the
        ``status-created_at`` index (its projection: keys, job_id, endpoint_id, task_token);
        ``after`` a record's index key (see index_key), to start past it.

        Raises AwsUnavailable (or RecordRefused) when a page cannot be read.
        """
        request: dict[str, Any] = {
            "IndexName": STALE_INDEX,
            "KeyConditionExpression": "#status = :pending AND created_at < :created_before",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": {
                ":pending": {"S": RecordStatus.PENDING},
                ":created_before": {"S": created_before},
            },
        }
        if after is not None:
            request["ExclusiveStartKey"] = {name: {"S": after[name]} for name in _INDEX_KEY}
        returned = 0
        while returned < limit:
            page = self._call("Query", Limit=min(QUERY_PAGE, limit - returned), **request)
            for item in page.get("Items", []):
                returned += 1
                yield from_item(item)
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def watchdog_cursor(self) -> dict[str, str] | None:
        """The index key the last watchdog run stopped at, or None to start from the oldest."""
        item = self._call("GetItem", Key=record_key(WATCHDOG_CURSOR), ConsistentRead=True).get(
            "Item"
        )
        after = from_item(item).get("after") if item else None
        if isinstance(after, Mapping) and all(isinstance(after.get(n), str) for n in _INDEX_KEY):
            return {name: after[name] for name in _INDEX_KEY}
        return None

    def save_watchdog_cursor(self, after: Mapping[str, str] | None) -> None:
        names = {"#after": "after"}  # AFTER is one of DynamoDB's reserved words
        if after is None:
            self._update_item(
                WATCHDOG_CURSOR, UpdateExpression="REMOVE #after", ExpressionAttributeNames=names
            )
            return
        self._update_item(
            WATCHDOG_CURSOR,
            UpdateExpression="SET #after = :after",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={":after": to_attribute(dict(after))},
        )


def index_key(record: Mapping[str, Any]) -> dict[str, str]:
    """A record's key in the ``status-created_at`` index: where a Query can start past it."""
    return {name: str(record[name]) for name in _INDEX_KEY}
