"""Submit a RunPod job for a waiting task: the record first, then RunPod, so no webhook is early."""

import base64
import contextlib
import hashlib
import hmac
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from runpod_callbacks.callback_records import (
    CallbackStore,
    ConditionFailed,
    RecordRefused,
    RecordStatus,
    iso_now,
)
from runpod_callbacks.dynamodb_values import to_attribute
from runpod_callbacks.errors import AwsUnavailable, InvalidRequest, SubmitError, SubmitFailed
from runpod_callbacks.job_status import redact
from runpod_callbacks.json_text import is_utf8
from runpod_callbacks.runpod_api import RunPodApi
from runpod_callbacks.task_outcome import fit_cause

logger = Logger(child=True)

DEFAULT_RECORD_LIFETIME_S = 7 * 24 * 3600
ENDPOINT_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
POLICY_KEYS = frozenset({"executionTimeout", "ttl", "lowPriority"})
MAX_TASK_TOKEN_LENGTH = 2048
MAX_RECORD_LIFETIME_S = 366 * 24 * 3600
MAX_NAME_LENGTH = 1024
JOB_ID_WRITE_ATTEMPTS = 3
JOB_ID_WRITE_BACKOFF_S = 0.5


@dataclass(frozen=True)
class SubmitRequest:
    task_token: str
    endpoint_id: str
    input: dict[str, Any]
    exec_id: str
    segment_filename: str
    policy: dict[str, Any] | None
    record_lifetime_s: int


@dataclass(frozen=True)
class Submitted:
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
    policy = payload.get("policy")
    if policy is not None and (not isinstance(policy, dict) or not set(policy) <= POLICY_KEYS):
        raise InvalidRequest(f"policy may hold only {', '.join(sorted(POLICY_KEYS))}")
    lifetime = payload.get("record_lifetime_s", DEFAULT_RECORD_LIFETIME_S)
    if (
        isinstance(lifetime, bool)
        or not isinstance(lifetime, int)
        or not 60 <= lifetime <= MAX_RECORD_LIFETIME_S
    ):
        raise InvalidRequest("record_lifetime_s must be whole seconds, from 60 to 366 days")
    return SubmitRequest(
        task_token=task_token,
        endpoint_id=endpoint_id,
        input=job_input,
        exec_id=str(names["exec_id"]),
        segment_filename=str(names["segment_filename"]),
        policy=policy,
        record_lifetime_s=lifetime,
    )


def _is_task_token(value: str) -> bool:
    return 0 < len(value) <= MAX_TASK_TOKEN_LENGTH and value.isascii() and value.isprintable()


def callback_token_for(task_token: str, key: str) -> str:
    """Unguessable without the key (192 bits), URL-safe, and the same for a retried invocation."""
    digest = hmac.new(key.encode(), b"runpod-callback:" + task_token.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(digest.digest()[:24]).decode().rstrip("=")


class SubmissionRecords(CallbackStore):
    """The submit function's writes: the record before RunPod hears of the job, then its id."""

    def create(self, record: Mapping[str, Any]) -> dict[str, Any] | None:
        """Write a new PENDING record; if another writer's exists already, return it instead.

        ``submission_id`` tells this write apart from an earlier invocation's: finding our own
        record (botocore repeated the write after its answer was lost) is success.
        """
        try:
            self._call(
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
            self._update_item(
                callback_token,
                UpdateExpression="SET job_id = :job_id",
                ConditionExpression="attribute_not_exists(job_id) OR job_id = :empty",
                ExpressionAttributeValues={":job_id": {"S": job_id}, ":empty": {"S": ""}},
            )

    def fail_unsubmitted(self, callback_token: str, result: Mapping[str, Any]) -> None:
        """Mark a record FAILED whose job never started, so no webhook can resurrect it."""
        with contextlib.suppress(ConditionFailed):  # not PENDING: finished already (or by us)
            self._update_item(
                callback_token,
                UpdateExpression="SET #status = :failed, completed_at = :now, #result = :result",
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
    def __init__(self, store: SubmissionRecords, runpod: RunPodApi, webhook_base_url: str) -> None:
        self._store = store
        self._runpod = runpod
        self._webhook_base_url = webhook_base_url.rstrip("/")

    def submit(self, request: SubmitRequest, callback_token: str) -> Submitted:
        now = int(time.time())
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
                "created_at": iso_now(),
                "ttl": now + request.record_lifetime_s,
            }
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
        logger.info(f"RunPod accepted job {job_id} for callback {redact(callback_token)}")
        # From here on the job runs and is paid for: nothing may fail the task any more.
        recorded = self._record_job_id(callback_token, job_id)
        return Submitted(job_id=job_id, status="SUBMITTED", job_id_recorded=recorded)

    def _create_record(self, record: dict[str, Any]) -> dict[str, Any] | None:
        try:
            return self._store.create(record)
        except (AwsUnavailable, RecordRefused) as error:
            raise SubmitFailed(f"callback record not stored: {error}") from error

    def _record_job_id(self, callback_token: str, job_id: str) -> bool:
        """Store the job id, retried; give up with a warning rather than fail a running job."""
        for attempt in range(JOB_ID_WRITE_ATTEMPTS):
            if attempt:
                time.sleep(JOB_ID_WRITE_BACKOFF_S * attempt)
            try:
                self._store.record_job_id(callback_token, job_id)
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
            self._store.fail_unsubmitted(callback_token, result)
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
    try:
        stepfunctions.send_task_failure(taskToken=task_token, error=error.error_name, cause=cause)
    except (ClientError, BotoCoreError) as failure:
        logger.warning(f"Could not send the task failure: {type(failure).__name__}")
