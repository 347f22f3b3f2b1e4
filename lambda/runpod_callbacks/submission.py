"""Submit a RunPod job for a waiting task: the record first, then RunPod, so no webhook is early."""

import base64
import contextlib
import hashlib
import math
import re
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from aws_lambda_powertools import Logger

from runpod_callbacks.aws import WORST_CALL_MS
from runpod_callbacks.dynamodb_values import to_attribute
from runpod_callbacks.errors import (
    AwsUnavailable,
    ConditionFailed,
    InvalidRequest,
    RecordRefused,
    RunPodMayHaveAccepted,
    SubmitError,
    SubmitFailed,
)
from runpod_callbacks.job_logs import job_id_learnt, log_outcome, redact
from runpod_callbacks.json_text import is_utf8
from runpod_callbacks.metric_names import Metric
from runpod_callbacks.record_table import (
    PENDING_SHARD,
    RecordStatus,
    RecordTable,
    iso_now,
    iso_time,
    pending_shard,
)
from runpod_callbacks.runpod_api import TIMEOUT_S, RunPodApi
from runpod_callbacks.step_functions import Sent, resume_task
from runpod_callbacks.task_outcome import fit_cause

logger = Logger(child=True)

DEFAULT_RECORD_LIFETIME_S = 7 * 24 * 3600
ENDPOINT_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
# $$.Execution.Id: a standard execution's ARN (of a Distributed Map's child too).
EXECUTION_ARN_PATTERN = re.compile(
    r"arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:[^\s]{1,900}"
)
POLICY_KEYS = frozenset({"executionTimeout", "ttl", "lowPriority"})
MAX_TASK_TOKEN_LENGTH = 2048
MAX_RECORD_LIFETIME_S = 366 * 24 * 3600
MAX_NAME_LENGTH = 1024
JOB_ID_WRITE_ATTEMPTS = 3
JOB_ID_WRITE_BACKOFF_S = 0.5

# RunPod's job policy (milliseconds): ttl counts from submission, queue and run included; once it
# has passed, or 30 minutes after the job ended, /status answers 404 and no webhook can come.
RUNPOD_DEFAULT_TTL_MS = 24 * 3600 * 1000
RUNPOD_TTL_RANGE_MS = (10_000, 7 * 24 * 3600 * 1000)
RUNPOD_EXECUTION_TIMEOUT_RANGE_MS = (5_000, 7 * 24 * 3600 * 1000)
RUNPOD_RESULT_RETENTION_S = 30 * 60

# What the function may still have to do once RunPod answered: the job id's writes (or the
# record's FAILED write and the task's failure, which take less). RunPod's retries stop in time.
AFTER_RUNPOD_MS = JOB_ID_WRITE_ATTEMPTS * WORST_CALL_MS + int(
    1000 * JOB_ID_WRITE_BACKOFF_S * sum(range(JOB_ID_WRITE_ATTEMPTS))
)
# The shortest timeout that fits the API key's read, the record's write, one RunPod attempt and
# what comes after: variables.tf's floor for submit_timeout.
MIN_TIMEOUT_S = math.ceil((2 * WORST_CALL_MS + 1000 * TIMEOUT_S + AFTER_RUNPOD_MS) / 1000) + 1


class SubmitRequest(NamedTuple):
    task_token: str
    endpoint_id: str
    input: dict[str, Any]
    exec_id: str
    segment_filename: str
    policy: dict[str, Any] | None
    record_lifetime_s: int
    execution_arn: str | None = None
    """The waiting execution ($$.Execution.Id): its stop cancels the job at once (canceller)."""

    @property
    def runpod_ttl_ms(self) -> int:
        ttl = (self.policy or {}).get("ttl")
        return ttl if isinstance(ttl, int) else RUNPOD_DEFAULT_TTL_MS


class Submitted(NamedTuple):
    job_id: str | None
    status: str
    job_id_recorded: bool = True
    """False when the record kept an empty job id: the webhook fills it in."""


def parse_submit_request(payload: Any) -> SubmitRequest:
    """The state machine's payload, or InvalidRequest saying what is wrong with it."""
    if not isinstance(payload, dict):
        raise InvalidRequest("payload must be a JSON object")
    task_token = payload.get("task_token")
    if not isinstance(task_token, str) or not _is_task_token(task_token):
        raise InvalidRequest("task_token must be the task's token ($$.Task.Token)")
    endpoint_id = payload.get("endpoint_id")
    if not isinstance(endpoint_id, str) or not ENDPOINT_ID_PATTERN.fullmatch(endpoint_id):
        raise InvalidRequest("endpoint_id must be a RunPod endpoint id (letters, digits, - and _)")
    job_input = payload.get("input")
    if not isinstance(job_input, dict):
        raise InvalidRequest("input must be a JSON object (RunPod's job input)")
    names = {name: payload.get(name) for name in ("exec_id", "segment_filename")}
    for name, value in names.items():
        if not (isinstance(value, str) and 0 < len(value) <= MAX_NAME_LENGTH and is_utf8(value)):
            raise InvalidRequest(f"{name} must be a string of 1 to {MAX_NAME_LENGTH} characters")
    request = SubmitRequest(
        task_token=task_token,
        endpoint_id=endpoint_id,
        input=job_input,
        exec_id=str(names["exec_id"]),
        segment_filename=str(names["segment_filename"]),
        policy=_policy(payload.get("policy")),
        record_lifetime_s=_record_lifetime_s(payload.get("record_lifetime_s")),
        execution_arn=_execution_arn(payload.get("execution_arn")),
    )
    shortest = request.runpod_ttl_ms // 1000 + RUNPOD_RESULT_RETENTION_S
    if request.record_lifetime_s < shortest:
        raise InvalidRequest(
            f"record_lifetime_s must be at least {shortest}: the job's ttl plus the 30 minutes"
            " RunPod keeps its result, or DynamoDB could delete the record while a webhook may"
            " still come"
        )
    return request


def _policy(policy: Any) -> dict[str, Any] | None:
    if policy is None:
        return None
    if not isinstance(policy, dict) or not set(policy) <= POLICY_KEYS:
        raise InvalidRequest(f"policy may hold only {', '.join(sorted(POLICY_KEYS))}")
    for name, (low, high) in (
        ("ttl", RUNPOD_TTL_RANGE_MS),
        ("executionTimeout", RUNPOD_EXECUTION_TIMEOUT_RANGE_MS),
    ):
        value = policy.get(name)
        if value is not None and not (_is_whole_number(value) and low <= value <= high):
            raise InvalidRequest(f"policy.{name} must be whole milliseconds from {low} to {high}")
    if not isinstance(policy.get("lowPriority", False), bool):
        raise InvalidRequest("policy.lowPriority must be true or false")
    return policy


def _execution_arn(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not EXECUTION_ARN_PATTERN.fullmatch(value):
        raise InvalidRequest("execution_arn must be the execution's ARN ($$.Execution.Id)")
    return value


def _record_lifetime_s(lifetime: Any) -> int:
    if lifetime is None:
        return DEFAULT_RECORD_LIFETIME_S
    if not (_is_whole_number(lifetime) and 0 < lifetime <= MAX_RECORD_LIFETIME_S):
        raise InvalidRequest("record_lifetime_s must be whole seconds, up to 366 days")
    return int(lifetime)


def _is_whole_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_task_token(value: str) -> bool:
    return 0 < len(value) <= MAX_TASK_TOKEN_LENGTH and value.isascii() and value.isprintable()


def callback_token_for(task_token: str) -> str:
    """The same for a retried invocation of the same task, whatever else changed (the API key
    rotated, the function was redeployed); as unguessable as the task token it is derived from
    (192 bits of its SHA-256), which it does not reveal; URL-safe."""
    digest = hashlib.sha256(b"runpod-callback:" + task_token.encode()).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode().rstrip("=")


class SubmissionRecords:
    """The submit function's writes: the record before RunPod hears of the job, then its id."""

    def __init__(self, table: RecordTable) -> None:
        self._table = table

    def create(self, record: Mapping[str, Any]) -> dict[str, Any] | None:
        """Write a new PENDING record; if another writer's exists already, return it instead.

        ``submission_id`` tells this write apart from an earlier invocation's: finding our own
        record (botocore repeated the write after its answer was lost) is success.
        """
        try:
            self._table.call(
                "PutItem",
                Item={name: to_attribute(value) for name, value in record.items()},
                ConditionExpression="attribute_not_exists(callback_token)",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ConditionFailed as existing:
            if existing.record.get("submission_id") != record["submission_id"]:
                return existing.record
        return None

    def record_job_id(self, callback_token: str, job_id: str) -> None:
        """Store RunPod's job id, unless a webhook stored it first (a repeat finds it stored)."""
        with contextlib.suppress(ConditionFailed):
            self._table.update(
                callback_token,
                UpdateExpression="SET job_id = :job_id",
                ConditionExpression="attribute_not_exists(job_id) OR job_id = :empty",
                ExpressionAttributeValues={":job_id": {"S": job_id}, ":empty": {"S": ""}},
            )

    def fail_unsubmitted(self, callback_token: str, result: Mapping[str, Any]) -> None:
        """Mark a record FAILED whose job never started, so no webhook can resurrect it."""
        with contextlib.suppress(ConditionFailed):  # not PENDING: finished already (or by us)
            self._table.update(
                callback_token,
                UpdateExpression=(
                    "SET #status = :failed, completed_at = :now, #result = :result"
                    f" REMOVE {PENDING_SHARD}"
                ),
                ConditionExpression="#status = :pending",
                ExpressionAttributeNames={"#status": "status", "#result": "result"},
                ExpressionAttributeValues={
                    ":failed": {"S": RecordStatus.FAILED},
                    ":pending": {"S": RecordStatus.PENDING},
                    ":now": {"S": iso_now()},
                    ":result": to_attribute(dict(result)),
                },
            )


class JobSubmission:
    def __init__(
        self, records: SubmissionRecords, runpod: RunPodApi, webhook_base_url: str
    ) -> None:
        self._records = records
        self._runpod = runpod
        self._webhook_base_url = webhook_base_url.rstrip("/")

    def submit(self, request: SubmitRequest, callback_token: str) -> Submitted:
        now = datetime.now(UTC)
        forgets_at = now + timedelta(
            milliseconds=request.runpod_ttl_ms, seconds=RUNPOD_RESULT_RETENTION_S
        )
        existing = self._create_record(
            {
                "callback_token": callback_token,
                "submission_id": uuid.uuid4().hex,
                "task_token": request.task_token,
                "job_id": "",
                "status": RecordStatus.PENDING,
                "exec_id": request.exec_id,
                "segment_filename": request.segment_filename,
                "endpoint_id": request.endpoint_id,
                "created_at": iso_time(now),
                PENDING_SHARD: pending_shard(callback_token),
                "runpod_forgets_at": iso_time(forgets_at),
                "ttl": int(now.timestamp()) + request.record_lifetime_s,
            }
            | ({"execution_arn": request.execution_arn} if request.execution_arn else {})
        )
        if existing is not None:
            return self._already_submitted(existing, callback_token)
        logger.info(
            f"Submitting {request.segment_filename} to RunPod endpoint {request.endpoint_id} "
            f"for callback {redact(callback_token)}"
        )
        job = {"input": request.input, "webhook": f"{self._webhook_base_url}/{callback_token}"}
        if request.policy is not None:
            job["policy"] = request.policy
        try:
            job_id = self._runpod.run(request.endpoint_id, job)
        except SubmitError as error:
            self._fail_unsubmitted(callback_token, error)
            raise
        except RunPodMayHaveAccepted as uncertain:
            # Sent again, the job could run twice: the task waits for its webhook instead, and
            # the watchdog ends it once RunPod could no longer answer for such a job.
            log_outcome(
                f"RunPod may have accepted the job for callback {redact(callback_token)}"
                f" ({uncertain}); not submitting it again: its webhook settles the task",
                Metric.SUBMIT_UNCERTAIN,
                warning=True,
            )
            return Submitted(job_id=None, status="SUBMITTED_UNCERTAIN", job_id_recorded=False)
        job_id_learnt(job_id)
        log_outcome(
            f"RunPod accepted job {job_id} for callback {redact(callback_token)}",
            Metric.SUBMIT_ACCEPTED,
        )
        # From here on the job runs and is paid for: nothing may fail the task any more.
        recorded = self._record_job_id(callback_token, job_id)
        return Submitted(job_id=job_id, status="SUBMITTED", job_id_recorded=recorded)

    def _create_record(self, record: dict[str, Any]) -> dict[str, Any] | None:
        try:
            return self._records.create(record)
        except (AwsUnavailable, RecordRefused) as error:
            raise SubmitFailed(f"callback record not stored: {error}") from error

    def _record_job_id(self, callback_token: str, job_id: str) -> bool:
        """Store the job id, retried; give up with a warning rather than fail a running job (the
        webhook fills it in; without it, the watchdog ends the task once RunPod has forgotten
        the job)."""
        for attempt in range(JOB_ID_WRITE_ATTEMPTS):
            if attempt:
                time.sleep(JOB_ID_WRITE_BACKOFF_S * attempt)
            try:
                self._records.record_job_id(callback_token, job_id)
                return True
            except (AwsUnavailable, RecordRefused) as error:
                failure = error
        logger.warning(
            f"Could not store job id {job_id} for callback {redact(callback_token)} "
            f"({failure}); the webhook fills it in"
        )
        return False

    def _fail_unsubmitted(self, callback_token: str, error: SubmitError) -> None:
        """Mark the record FAILED; a failure to do so must not hide the submission's error."""
        result = {"error": str(error), "step_functions_error": error.error_name}
        try:
            self._records.fail_unsubmitted(callback_token, result)
        except (AwsUnavailable, RecordRefused) as failure:
            logger.warning(f"Could not mark callback {redact(callback_token)} FAILED: {failure}")

    def _already_submitted(self, record: dict[str, Any], callback_token: str) -> Submitted:
        """A retried invocation: never a second job. Report what the first one did."""
        job_id = record.get("job_id") or None
        status = str(record.get("status"))
        if status == RecordStatus.PENDING and job_id is None:
            logger.warning(
                f"Callback {redact(callback_token)} was submitted before without a job id; "
                "not submitting again, the webhook will fill it in"
            )
        else:
            logger.info(f"Callback {redact(callback_token)} already submitted as job {job_id}")
        pending = status == RecordStatus.PENDING
        return Submitted(job_id=job_id, status="ALREADY_SUBMITTED" if pending else status)


def fail_waiting_task(stepfunctions: Any, payload: Any, error: SubmitError) -> None:
    """Fail the waiting task with the typed error at once, so its Catch runs.

    The function's own error reaches Step Functions too; whichever lands second is ignored.
    """
    task_token = payload.get("task_token") if isinstance(payload, dict) else None
    if not isinstance(task_token, str) or not task_token:
        return
    context = {name: payload.get(name) for name in ("endpoint_id", "exec_id", "segment_filename")}
    texts = {name: value if isinstance(value, str) else None for name, value in context.items()}
    cause = fit_cause(
        {"message": str(error), **texts}, ("message", "segment_filename", "exec_id", "endpoint_id")
    )
    answer = resume_task(stepfunctions, task_token, error=error.error_name, cause=cause)
    if answer.sent is not Sent.DELIVERED:
        logger.warning(f"Could not send the task failure: {answer.reason or answer.sent.value}")
