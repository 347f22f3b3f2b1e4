"""One webhook delivery: validate, claim the record, resume the task once, record the outcome."""

from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools import Logger

from runpod_callbacks.aws import WORST_CALL_MS
from runpod_callbacks.callback_records import (
    EXPIRED,
    AlreadyFinished,
    CallbackStore,
    Claim,
)
from runpod_callbacks.errors import AwsUnavailable, TaskExpired, UnknownCallback
from runpod_callbacks.job_status import JobStatus, parse_callback_token, parse_job_status, redact
from runpod_callbacks.step_functions import SendFailed, TokenGone, send_outcome
from runpod_callbacks.task_outcome import TaskContext, TaskOutcome, decide_outcome, record_result

logger = Logger(child=True)


@dataclass(frozen=True)
class Delivered:
    metric_name: str
    record_status: str
    message: str
    runpod_timings_ms: dict[str, float] = field(default_factory=dict)
    """RunPod's delay and execution times, reported once: by the delivery that resumed the task."""


class WebhookDelivery:
    def __init__(self, store: CallbackStore, stepfunctions: Any) -> None:
        self._store = store
        self._stepfunctions = stepfunctions

    def deliver(self, callback_token: str, body: str | None) -> Delivered:
        token = parse_callback_token(callback_token)
        job = parse_job_status(body)
        logger.info(
            f"Processing RunPod job {job.job_id} with status {job.status} "
            f"for callback {redact(token)}"
        )
        try:
            claim = self._store.claim(token, job.job_id, job.status)
        except AlreadyFinished as finished:
            logger.info(f"Callback {redact(token)} already completed, returning success")
            return Delivered("DuplicateDelivery", finished.record_status, "already completed")
        except UnknownCallback:
            logger.warning(f"Callback token {redact(token)} not found in DynamoDB")
            raise
        outcome = decide_outcome(job, TaskContext(token, claim.exec_id, claim.segment_filename))
        return self._resume(claim, job, outcome)

    def _resume(self, claim: Claim, job: JobStatus, outcome: TaskOutcome) -> Delivered:
        result = record_result(job, outcome)
        if self._store.lease_time_left_ms(claim) < WORST_CALL_MS:
            self._release(claim, maybe_delivered=False)
            raise AwsUnavailable("the record was claimed too slowly to send within the lease")
        try:
            send_outcome(self._stepfunctions, claim.task_token, outcome)
        except SendFailed as failure:
            self._release(claim, maybe_delivered=failure.maybe_delivered)
            raise AwsUnavailable(f"Step Functions call failed: {failure}") from failure
        except TokenGone as gone:
            if not (gone.after_retry or claim.previous_attempt):
                logger.warning(f"Task token expired for callback {redact(claim.callback_token)}")
                self._finalize(claim, EXPIRED, result, delivered=False)
                raise TaskExpired("the task no longer waits for this callback") from gone
            logger.info(f"Callback {redact(claim.callback_token)} resumed by an earlier attempt")
        self._finalize(claim, outcome.record_status, result, delivered=True)
        timings = {
            name: value
            for name, value in (
                ("RunPodDelayTime", job.delay_time_ms),
                ("RunPodExecutionTime", job.execution_time_ms),
            )
            if value is not None
        }
        if outcome.succeeded:
            logger.info(f"Sent TaskSuccess for job {job.job_id}")
            return Delivered("TaskSucceeded", outcome.record_status, "task resumed", timings)
        logger.info(f"Sent TaskFailure for job {job.job_id}: {outcome.error}")
        message = f"task failed with {outcome.error}"
        return Delivered("TaskFailed", outcome.record_status, message, timings)

    def _finalize(
        self, claim: Claim, status: str, result: dict[str, Any], *, delivered: bool
    ) -> None:
        try:
            if not self._store.finalize(claim, status, result):
                logger.warning("Lease ran out before finalizing; the delivery holding it finalizes")
        except AwsUnavailable:
            self._release(claim, maybe_delivered=delivered)
            raise

    def _release(self, claim: Claim, *, maybe_delivered: bool) -> None:
        try:
            self._store.release(claim, maybe_delivered=maybe_delivered)
        except AwsUnavailable:
            logger.warning("Could not release the lease; it runs out by itself", exc_info=True)
