"""A delivery's hold on the callback record: claim it, mark the send, then finalize or release.

Besides the seed's attributes a delivery keeps bookkeeping on the record:

- ``lease_id`` / ``lease_expires_at`` (epoch ms): the claim of the delivery now in flight. A
  crashed delivery's lease runs out after ``LEASE_MS``, before RunPod retries (10 s later).
  ``lease_id`` stays on a finished record: it names the delivery that finished it.
- ``maybe_delivered_by``: the leases whose SendTask* call may have reached Step Functions (a
  string set, written just before each send, taken back when the call surely did not happen). A
  later delivery that finds the task expired treats the job as delivered, not expired.
- ``sent_outcome``: what a delivery that could not finish the record sent (record status, error
  name, S3 location) and whether Step Functions surely took it. The next delivery finishes the
  record with it: it does not send again what was surely taken, and records what the task got.
- ``delivery_attempts``: how many deliveries claimed the record.

Every conditional write here can be repeated by botocore after its answer was lost, so each one
recognises its own earlier success instead of reporting a conflict with itself.
"""

import contextlib
import time
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, NamedTuple

from runpod_callbacks.dynamodb_values import from_item, to_attribute
from runpod_callbacks.errors import (
    AwsUnavailable,
    ConditionFailed,
    CorruptRecord,
    DeliveryInFlight,
    JobIdMismatch,
    RecordNotPending,
    RecordRefused,
    TaskExpired,
    UnknownCallback,
    WebhookError,
)
from runpod_callbacks.record_table import (
    PENDING_SHARD,
    RecordStatus,
    RecordTable,
    iso_now,
)

LEASE_MS = 9_000

# One condition, each line named by the refusal that explains it when it fails (claim_refusal).
CLAIM_CONDITION = (
    "attribute_exists(callback_token)"  # else UnknownCallback
    " AND (attribute_not_exists(job_id) OR job_id IN (:job_id, :empty)"
    " OR attribute_type(job_id, :null_type))"  # else JobIdMismatch
    " AND #status = :pending"  # else Finished, TaskExpired or RecordNotPending
    " AND attribute_type(task_token, :string_type) AND size(task_token) > :zero"  # else corrupt
    " AND (attribute_not_exists(lease_expires_at) OR lease_expires_at < :now)"  # else in flight
)


class Finished(NamedTuple):
    """What a claim finds when the record reached COMPLETED or FAILED earlier: a duplicate."""

    record_status: str


class Refused(NamedTuple):
    """A claim (or a lease renewal) refused, nothing changed: ``why`` is the webhook's answer
    (a 4xx), returned rather than raised, as the watchdog settles some of them too."""

    why: WebhookError


class Claim(NamedTuple):
    callback_token: str
    lease_id: str
    lease_expires_at: int
    task_token: str
    exec_id: str | None
    segment_filename: str | None
    endpoint_id: str | None
    maybe_delivered: bool
    """An earlier delivery's SendTask* call may have reached Step Functions."""
    sent: "SentOutcome | None" = None
    """What an earlier delivery sent before it failed to finish the record."""


class SentOutcome(NamedTuple):
    record_status: str
    step_functions_error: str | None
    output_s3: dict[str, Any] | None
    surely_delivered: bool
    """Step Functions answered: the task was resumed with it."""

    def attribute(self) -> dict[str, Any]:
        return to_attribute(
            {
                "record_status": self.record_status,
                "step_functions_error": self.step_functions_error,
                "output_s3": self.output_s3,
                "surely_delivered": self.surely_delivered,
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
            surely_delivered=value.get("surely_delivered") is True,
        )


def epoch_ms() -> int:
    return time.time_ns() // 1_000_000


class CallbackRecords:
    def __init__(self, table: RecordTable, clock: Callable[[], int] | None = None) -> None:
        self._table = table
        self._clock = clock or epoch_ms

    def claim(self, callback_token: str, job_id: str) -> Claim | Finished | Refused:
        """Take the record for this delivery in one conditional write, or say why not: Finished
        for a duplicate, else Refused (UnknownCallback, DeliveryInFlight, ...). Raises
        AwsUnavailable (a claim whose answer is lost is taken back, best effort) and
        RecordRefused (DynamoDB refuses the write as it is)."""
        now = self._clock()
        lease_id = uuid.uuid4().hex
        try:
            response = self._table.update(
                callback_token,
                UpdateExpression=(
                    "SET lease_id = :lease_id, lease_expires_at = :lease_expires_at,"
                    " job_id = :job_id,"
                    " delivery_attempts = if_not_exists(delivery_attempts, :zero) + :one"
                ),
                ConditionExpression=CLAIM_CONDITION,
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
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            record = from_item(response["Attributes"])
        except ConditionFailed as refused:
            record = refused.record
            if record.get("lease_id") != lease_id:  # else: our own claim, repeated by botocore
                refusal = claim_refusal(record, job_id, now)
                return refusal if isinstance(refusal, Finished) else Refused(refusal)
        except AwsUnavailable:  # the claim may have been taken all the same: give it back
            with contextlib.suppress(AwsUnavailable, RecordRefused):
                self._give_back(callback_token, lease_id, sent=None)
            raise
        return Claim(
            callback_token=callback_token,
            lease_id=lease_id,
            lease_expires_at=now + LEASE_MS,
            task_token=record["task_token"],
            exec_id=_optional_str(record.get("exec_id")),
            segment_filename=_optional_str(record.get("segment_filename")),
            endpoint_id=_optional_str(record.get("endpoint_id")),
            maybe_delivered=bool(record.get("maybe_delivered_by")),
            sent=SentOutcome.read(record.get("sent_outcome")),
        )

    def mark_sending(self, claim: Claim) -> Claim | Refused:
        """Note that this delivery is about to send (it may reach Step Functions from now on) and
        renew its lease, so whatever came before (an S3 write) leaves the send its whole lease.

        Refused (DeliveryInFlight) when the lease ran out and another delivery took the record.
        """
        now = self._clock()
        try:
            self._table.update(
                claim.callback_token,
                UpdateExpression=(
                    "SET lease_expires_at = :lease_expires_at ADD maybe_delivered_by :lease_ids"
                ),
                ConditionExpression="lease_id = :lease_id",
                ExpressionAttributeValues={
                    ":lease_id": {"S": claim.lease_id},
                    ":lease_ids": {"SS": [claim.lease_id]},
                    ":lease_expires_at": {"N": str(now + LEASE_MS)},
                },
            )
        except ConditionFailed:
            return Refused(
                DeliveryInFlight("another delivery took this callback over; retry later")
            )
        return claim._replace(lease_expires_at=now + LEASE_MS)

    def lease_time_left_ms(self, claim: Claim) -> int:
        return claim.lease_expires_at - self._clock()

    def finalize(self, claim: Claim, status: str, result: Mapping[str, Any] | None) -> bool:
        """Record the outcome (without a result: None) if this delivery still holds the lease;
        False if it lost it. The record leaves the watchdog's index (``pending_shard`` goes with
        PENDING).

        Raises RecordRefused when DynamoDB refuses the result (or it cannot be stored at all).
        """
        values: dict[str, Any] = {
            ":status": {"S": status},
            ":completed_at": {"S": iso_now()},
            ":lease_id": {"S": claim.lease_id},
        }
        stored = "SET #status = :status, completed_at = :completed_at"
        if result is not None:
            try:
                values[":result"] = to_attribute(dict(result))
            except ValueError as error:
                raise RecordRefused(str(error)) from error
            stored += ", #result = :result"
        try:
            self._table.update(
                claim.callback_token,
                UpdateExpression=(
                    f"{stored} REMOVE lease_expires_at, maybe_delivered_by, sent_outcome,"
                    f" {PENDING_SHARD}"
                ),
                # lease_id stays: a repeat of this very request still finds it and succeeds.
                ConditionExpression="lease_id = :lease_id",
                ExpressionAttributeNames={"#status": "status"}
                | ({"#result": "result"} if result is not None else {}),
                ExpressionAttributeValues=values,
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
            self._table.update(
                callback_token,
                UpdateExpression=update,
                ConditionExpression="lease_id = :lease_id",
                ExpressionAttributeValues=values,
            )


def claim_refusal(  # noqa: PLR0911
    record: Mapping[str, Any], job_id: str, now: int
) -> WebhookError | Finished:
    """Why the claim's condition failed, read from the record as it was (ALL_OLD)."""
    if not record:
        return UnknownCallback("callback token not found")
    if record.get("job_id") not in (None, "", job_id):
        return JobIdMismatch("job id does not match the callback's job")
    status = record.get("status")
    if status in (RecordStatus.COMPLETED, RecordStatus.FAILED):
        return Finished(str(status))
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


def _optional_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
