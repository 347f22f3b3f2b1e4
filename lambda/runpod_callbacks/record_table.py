"""The callback table, one DynamoDB call at a time, its failures typed. The submit function's
writes (submission), the deliveries' claims (callback_records) and the watchdog's queries
(stale_records) each use one of these."""

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from runpod_callbacks.aws import aws_error_code, is_deterministic_refusal
from runpod_callbacks.dynamodb_values import from_item
from runpod_callbacks.errors import AwsUnavailable, ConditionFailed, RecordRefused


class RecordStatus(StrEnum):
    """The record's ``status``: PENDING until a delivery finishes it (RunPod's statuses differ)."""

    PENDING = "PENDING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"


# A PENDING record's place in the watchdog's index (hash ``pending_shard``, range ``created_at``):
# spread over shards, as one index key takes about 1,000 writes a second. Finished records drop
# the attribute, so the index holds PENDING records only.
PENDING_SHARD = "pending_shard"
PENDING_SHARDS = 16


def pending_shard(callback_token: str) -> str:
    """The record's shard, "0" to "15": the same for every writer of the same record."""
    digest = hashlib.sha256(callback_token.encode("utf-8", "surrogatepass")).digest()
    return str(digest[0] % PENDING_SHARDS)


class RecordTable:
    def __init__(self, dynamodb: Any, table_name: str) -> None:
        self._dynamodb = dynamodb
        self.name = table_name

    def update(self, callback_token: str, **request: Any) -> dict[str, Any]:
        return self.call("UpdateItem", Key=record_key(callback_token), **request)

    def call(self, operation: str, **request: Any) -> dict[str, Any]:
        """One call on the table. Raises ConditionFailed (with the item as it was), RecordRefused
        (the request is wrong as it is) or AwsUnavailable (worth trying again)."""
        call = {
            "GetItem": self._dynamodb.get_item,
            "PutItem": self._dynamodb.put_item,
            "UpdateItem": self._dynamodb.update_item,
            "Query": self._dynamodb.query,
        }[operation]
        try:
            response: dict[str, Any] = call(TableName=self.name, **request)
        except ClientError as error:
            code = aws_error_code(error)
            if code == "ConditionalCheckFailedException":
                old_item: dict[str, Any] = error.response.get("Item") or {}  # type: ignore[assignment]
                raise ConditionFailed(from_item(old_item)) from error
            if is_deterministic_refusal(error):
                raise RecordRefused(f"DynamoDB {operation} refused: {code}") from error
            raise AwsUnavailable(f"DynamoDB {operation} failed: {code}") from error
        except BotoCoreError as error:
            raise AwsUnavailable(f"DynamoDB {operation} failed: {type(error).__name__}") from error
        return response


def record_key(callback_token: str) -> dict[str, Any]:
    return {"callback_token": {"S": callback_token}}


def iso_now() -> str:
    return iso_time(datetime.now(UTC))


def iso_time(moment: datetime) -> str:
    """ISO 8601 UTC with milliseconds (2026-01-06T12:00:00.000Z); these compare as text."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def from_iso_time(text: str) -> datetime:
    """The moment of an ISO 8601 time; one without a zone (own submitters') is taken as UTC."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
