"""The callback record in DynamoDB: claim it for one delivery, then finalize or release it.

Besides the seed's attributes the handler keeps bookkeeping on the record:

- ``lease_id`` / ``lease_expires_at`` (epoch ms): the claim of the delivery now in flight. A
  crashed delivery's lease runs out after ``LEASE_MS``, before RunPod retries (10 s later).
  ``lease_id`` stays on a finished record: it names the delivery that finished it.
- ``maybe_delivered_by``: the leases whose SendTask* call may have reached Step Functions (a
  string set, written with a claim that is to send, taken back when the call surely did not
  happen). A later delivery that finds the token gone treats the job as delivered, not expired.
- ``sent_outcome``: what a delivery that could not finish the record sent (record status, error
  name, S3 location) and whether Step Functions surely took it. The next delivery finishes the
  record with it: it does not send again what was surely taken, and records what the task got.
- ``delivery_attempts``: how many deliveries claimed the record.

Every conditional write here can be repeated by botocore after its answer was lost, so each one
recognises its own earlier success instead of reporting a conflict with itself. The submit
function's writes (submission.SubmissionRecords) and the watchdog's reads
(stale_records.StaleRecords) extend this store.
"""

import contextlib
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, NamedTuple

from botocore.exceptions import BotoCoreError, ClientError

from runpod_callbacks.aws import aws_error_code, is_deterministic_refusal
from runpod_callbacks.dynamodb_values import from_item, to_attribute
from runpod_callbacks.errors import (
    AwsUnavailable,
    CorruptRecord,
    DeliveryInFlight,
    JobIdMismatch,
    RecordNotPending,
    TaskExpired,
    UnknownCallback,
)


class RecordStatus(StrEnum):
    """The record's ``status``: PENDING until a delivery finishes it (RunPod's statuses differ)."""

    PENDING = "PENDING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    EXPIRED = "EXPIRED"


FINISHED_STATUSES = frozenset({RecordStatus.COMPLETED, RecordStatus.FAILED})

LEASE_MS = 9_000

# The claim's preconditions, each named by the refusal that explains it (see claim_refusal).
_CLAIM_CONDITION = " AND ".join(
    [
        "attribute_exists(callback_token)",  # else UnknownCallback
        "(attribute_not_exists(job_id) OR job_id IN (:job_id, :empty)"
        " OR attribute_type(job_id, :null_type))",  # else JobIdMismatch
        "#status = :pending",  # else AlreadyFinished, TaskExpired or RecordNotPending
        "attribute_type(task_token, :string_type) AND size(task_token) > :zero",  # else corrupt
        "(attribute_not_exists(lease_expires_at) OR lease_expires_at < :now)",  # else in flight
    ]
)
_CLAIM_UPDATE = (
    "SET lease_id = :lease_id, lease_expires_at = :lease_expires_at, job_id = :job_id,"
    " delivery_attempts = if_not_exists(delivery_attempts, :zero) + :one"
)
_MAY_SEND = " ADD maybe_delivered_by :lease_ids"  # written ahead: a crash after the send is safe


class ConditionFailed(Exception):
    def __init__(self, record: dict[str, Any]) -> None:
        super().__init__("conditional update refused")
        self.record = record


class RecordRefused(Exception):
    """DynamoDB refuses this write as it is (ValidationException): repeating it will not help."""


class AlreadyFinished(Exception):
    """A duplicate delivery: the record reached COMPLETED or FAILED earlier."""

    def __init__(self, record_status: str) -> None:
        super().__init__(record_status)
        self.record_status = record_status


class Claim(NamedTuple):
    callback_token: str
    lease_id: str
    lease_expires_at: int
    task_token: str
    exec_id: str | None
    segment_filename: str | None
    maybe_delivered_before: bool
    """An earlier delivery's SendTask* call may have reached Step Functions."""
    sent: "SentOutcome | None" = None
    """What an earlier delivery sent before it failed to finish the record."""


class SentOutcome(NamedTuple):
    record_status: str
    step_functions_error: str | None
    output_s3: dict[str, Any] | None
    for_sure: bool
    """Step Functions answered: the task was resumed with it."""

    def attribute(self) -> dict[str, Any]:
        return to_attribute(
            {
                "record_status": self.record_status,
                "step_functions_error": self.step_functions_error,
                "output_s3": self.output_s3,
                "for_sure": self.for_sure,
            }
        )

    @classmethod
    def read(cls, value: Any) -> "SentOutcome | None":
        if not isinstance(value, Mapping) or not isinstance(value.get("record_status"), str):
            return None
        output_s3 = value.get("output_s3")
        return cls(
            record_status=value["record_status"],
            step_functions_error=_optional_str(value.get("step_functions_error")),
            output_s3=dict(output_s3) if isinstance(output_s3, Mapping) else None,
            for_sure=value.get("for_sure") is True,
        )


def epoch_ms() -> int:
    return time.time_ns() // 1_000_000


class CallbackStore:
    def __init__(
        self, dynamodb: Any, table_name: str, clock: Callable[[], int] | None = None
    ) -> None:
        self._dynamodb = dynamodb
        self._table_name = table_name
        self._clock = clock or epoch_ms

    def claim(self, callback_token: str, job_id: str, *, to_send: bool = True) -> Claim:
        """Take the record for this delivery in one conditional write, or say why not.

        A claim ``to_send`` marks itself in ``maybe_delivered_by`` ahead of the send; one that only
        expires the record does not. A claim whose answer is lost is taken back (best effort).
        """
        now = self._clock()
        lease_id = uuid.uuid4().hex
        try:
            response = self._update_item(
                callback_token,
                UpdateExpression=_CLAIM_UPDATE + (_MAY_SEND if to_send else ""),
                ConditionExpression=_CLAIM_CONDITION,
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":pending": {"S": RecordStatus.PENDING},
                    ":now": {"N": str(now)},
                    ":job_id": {"S": job_id},
                    ":empty": {"S": ""},
                    ":null_type": {"S": "NULL"},
                    ":string_type": {"S": "S"},
                    ":lease_id": {"S": lease_id},
                    ":lease_expires_at": {"N": str(now + LEASE_MS)},
                    ":zero": {"N": "0"},
                    ":one": {"N": "1"},
                    **({":lease_ids": {"SS": [lease_id]}} if to_send else {}),
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            record = from_item(response["Attributes"])
        except ConditionFailed as refused:
            record = refused.record
            if record.get("lease_id") != lease_id:  # else: our own claim, repeated by botocore
                raise claim_refusal(record, job_id, now) from refused
        except AwsUnavailable:  # the claim may have been taken all the same: give it back
            with contextlib.suppress(AwsUnavailable, RecordRefused):
                self._give_back(callback_token, lease_id, sent=None)
            raise
        earlier_deliveries = set(record.get("maybe_delivered_by", ())) - {lease_id}
        return Claim(
            callback_token=callback_token,
            lease_id=lease_id,
            lease_expires_at=now + LEASE_MS,
            task_token=record["task_token"],
            exec_id=_optional_str(record.get("exec_id")),
            segment_filename=_optional_str(record.get("segment_filename")),
            maybe_delivered_before=bool(earlier_deliveries),
            sent=SentOutcome.read(record.get("sent_outcome")),
        )

    def lease_time_left_ms(self, claim: Claim) -> int:
        return claim.lease_expires_at - self._clock()

    def finalize(self, claim: Claim, status: str, result: Mapping[str, Any]) -> bool:
        """Record the outcome if this delivery still holds the lease; False if it lost it.

        Raises RecordRefused when DynamoDB refuses the result (or it cannot be stored at all).
        """
        try:
            result_attribute = to_attribute(dict(result))
        except ValueError as error:
            raise RecordRefused(str(error)) from error
        try:
            self._update_item(
                claim.callback_token,
                UpdateExpression=(
                    "SET #status = :status, completed_at = :completed_at, #result = :result"
                    " REMOVE lease_expires_at, maybe_delivered_by, sent_outcome"
                ),
                # lease_id stays: a repeat of this very request still finds it and succeeds.
                ConditionExpression="lease_id = :lease_id",
                ExpressionAttributeNames={"#status": "status", "#result": "result"},
                ExpressionAttributeValues={
                    ":status": {"S": status},
                    ":completed_at": {"S": iso_now()},
                    ":result": result_attribute,
                    ":lease_id": {"S": claim.lease_id},
                },
            )
        except ConditionFailed:
            return False
        return True

    def release(self, claim: Claim, *, sent: SentOutcome | None = None) -> None:
        """Give the lease back so RunPod's retry can proceed at once.

        ``sent``: what this delivery sent, if the send may have reached Step Functions; kept on
        the record for the next delivery. Otherwise the lease leaves ``maybe_delivered_by`` too,
        so a token that expires later is reported as expired rather than delivered.
        Raises AwsUnavailable or RecordRefused; the lease then simply runs out.
        """
        self._give_back(claim.callback_token, claim.lease_id, sent)

    def _give_back(self, callback_token: str, lease_id: str, sent: SentOutcome | None) -> None:
        values: dict[str, Any] = {":lease_id": {"S": lease_id}}
        if sent is None:
            update = "REMOVE lease_id, lease_expires_at DELETE maybe_delivered_by :lease_ids"
            values[":lease_ids"] = {"SS": [lease_id]}
        else:
            update = "SET sent_outcome = :sent REMOVE lease_id, lease_expires_at"
            values[":sent"] = sent.attribute()
        with contextlib.suppress(ConditionFailed):  # released already, or run out and taken over
            self._update_item(
                callback_token,
                UpdateExpression=update,
                ConditionExpression="lease_id = :lease_id",
                ExpressionAttributeValues=values,
            )

    def _update_item(self, callback_token: str, **request: Any) -> dict[str, Any]:
        return self._call("UpdateItem", Key=record_key(callback_token), **request)

    def _call(self, operation: str, **request: Any) -> dict[str, Any]:
        """One call on the table; a refused condition raises ConditionFailed with the item as it
        was (ALL_OLD)."""
        call = {
            "GetItem": self._dynamodb.get_item,
            "PutItem": self._dynamodb.put_item,
            "UpdateItem": self._dynamodb.update_item,
            "Query": self._dynamodb.query,
        }[operation]
        try:
            response: dict[str, Any] = call(TableName=self._table_name, **request)
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


def claim_refusal(record: Mapping[str, Any], job_id: str, now: int) -> Exception:  # noqa: PLR0911
    """Why the claim's condition failed, read from the record as it was (ALL_OLD)."""
    if not record:
        return UnknownCallback("callback token not found")
    if record.get("job_id") not in (None, "", job_id):
        return JobIdMismatch("job id does not match the callback's job")
    status = record.get("status")
    if status in FINISHED_STATUSES:
        return AlreadyFinished(str(status))
    if status == RecordStatus.EXPIRED:
        return TaskExpired("the task no longer waits for this callback")
    if status != RecordStatus.PENDING:
        return RecordNotPending(f"callback record is {status!s}, not PENDING")
    if not isinstance(record.get("task_token"), str) or not record["task_token"]:
        return CorruptRecord("callback record has no task token (a non-empty string)")
    lease_expires_at = record.get("lease_expires_at")
    if isinstance(lease_expires_at, Decimal) and lease_expires_at >= now:
        return DeliveryInFlight("another delivery for this callback is in flight; retry later")
    return CorruptRecord("callback record has a lease the handler cannot read")


def record_key(callback_token: str) -> dict[str, Any]:
    return {"callback_token": {"S": callback_token}}


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def iso_now() -> str:
    return iso_time(datetime.now(UTC))


def iso_time(moment: datetime) -> str:
    """ISO 8601 UTC with milliseconds (2026-01-06T12:00:00.000Z); these compare as text."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
