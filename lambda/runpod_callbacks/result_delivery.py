"""One delivery of a finished job, by the webhook or the watchdog: claim the record, resume the
task once, record the outcome."""

from collections.abc import Callable
from decimal import Decimal
from typing import Any, NamedTuple

from aws_lambda_powertools import Logger

from runpod_callbacks.aws import WORST_CALL_MS
from runpod_callbacks.callback_records import (
    AlreadyFinished,
    CallbackStore,
    Claim,
    RecordRefused,
    RecordStatus,
    SentOutcome,
    iso_now,
)
from runpod_callbacks.errors import (
    AwsUnavailable,
    CorruptRecord,
    DeliveryInFlight,
    TaskExpired,
    UnknownCallback,
)
from runpod_callbacks.job_status import JobStatus, Milliseconds, redact
from runpod_callbacks.json_text import carried_text
from runpod_callbacks.large_outputs import LargeOutputStore
from runpod_callbacks.step_functions import (
    SendFailed,
    SendRefused,
    TokenGone,
    send_outcome,
    task_waits,
)
from runpod_callbacks.task_outcome import (
    INVALID_OUTPUT,
    Decide,
    TaskContext,
    TaskOutcome,
    decide_outcome,
    failed_task,
    record_result,
)

logger = Logger(child=True)

LOGGED_MESSAGE_CHARACTERS = 1000
CancelJob = Callable[[], None]
# CloudWatch takes metric values between about 1e-108 and 1e108; RunPod's timings are informative.
METRIC_MILLISECONDS = (Decimal("0.001"), Decimal(10**12))


class Delivered(NamedTuple):
    metric_name: str
    record_status: str
    message: str
    runpod_timings_ms: dict[str, float]
    """RunPod's delay and execution times, reported once: by the delivery that resumed the task."""


class ResultDelivery:
    def __init__(
        self,
        store: CallbackStore,
        stepfunctions: Any,
        large_outputs: LargeOutputStore | None = None,
    ) -> None:
        self._store = store
        self._stepfunctions = stepfunctions
        self._large_outputs = large_outputs

    def deliver(
        self, callback_token: str, job: JobStatus, decide: Decide | None = None
    ) -> Delivered:
        """Resume the task with what the job's report becomes, exactly once.

        ``decide`` defaults to RunPod's report as it is (decide_outcome, its output in S3 when
        it does not fit and large outputs are on).
        """
        logger.info(
            f"Processing RunPod job {job.job_id} with status {job.status} "
            f"for callback {redact(callback_token)}"
        )
        try:
            claim = self._claim(callback_token, job.job_id)
        except AlreadyFinished as finished:
            logger.info(f"Callback {redact(callback_token)} already completed, returning success")
            return Delivered("DuplicateDelivery", finished.record_status, "already completed", {})
        if claim.sent is not None and claim.sent.for_sure:
            # An earlier delivery resumed the task and only failed to record it: record what it
            # sent, deciding (and writing to S3) nothing again.
            logger.info(f"Callback {redact(callback_token)} resumed by an earlier attempt")
            return self._finish(claim, job, _as_outcome(claim.sent))
        context = TaskContext(callback_token, claim.exec_id, claim.segment_filename)
        try:
            outcome = (decide or self._decide_outcome)(job, context)
        except AwsUnavailable:  # the output could not be stored: nothing was sent
            self._release(claim)
            raise
        return self._resume(claim, job, context, outcome)

    def _decide_outcome(self, job: JobStatus, context: TaskContext) -> TaskOutcome:
        return decide_outcome(job, context, self._large_outputs)

    def expire(
        self, callback_token: str, job_id: str, reason: str, cancel_job: CancelJob | None = None
    ) -> bool:
        """Mark EXPIRED the record of a task that no longer waits, once its job is cancelled.

        False, and nothing changed, when the record is not this call's to expire: finished or in
        flight meanwhile, or an earlier delivery may have resumed the task (then it did not
        expire). Raises what ``cancel_job`` raises, the record left as it was.
        """
        try:
            claim = self._claim(callback_token, job_id, to_send=False)
        except (AlreadyFinished, DeliveryInFlight, TaskExpired):
            return False
        if claim.maybe_delivered_before:
            self._release(claim)
            return False
        result = {"job_id": job_id, "expired_because": reason}
        if cancel_job is not None:
            try:
                cancel_job()
            except Exception:
                self._release(claim)
                raise
            result["runpod_job_cancelled_at"] = iso_now()
        logger.warning(f"Task token expired for callback {redact(callback_token)}: {reason}")
        self._finalize(claim, RecordStatus.EXPIRED, result, sent=None)
        return True

    def task_waits(self, task_token: str) -> bool:
        """Heartbeat the task (its HeartbeatSeconds then works as a liveness check)."""
        try:
            return task_waits(self._stepfunctions, task_token)
        except SendFailed as failure:
            raise AwsUnavailable(f"Step Functions heartbeat failed: {failure}") from failure

    def _claim(self, callback_token: str, job_id: str, *, to_send: bool = True) -> Claim:
        try:
            return self._store.claim(callback_token, job_id, to_send=to_send)
        except UnknownCallback:
            logger.warning(f"Callback token {redact(callback_token)} not found in DynamoDB")
            raise
        except RecordRefused as refused:
            raise CorruptRecord(f"callback record cannot be claimed: {refused}") from refused

    def _resume(
        self, claim: Claim, job: JobStatus, context: TaskContext, outcome: TaskOutcome
    ) -> Delivered:
        try:
            outcome = self._send(claim, job, context, outcome)
        except TokenGone as gone:
            if not (gone.maybe_delivered or claim.maybe_delivered_before):
                logger.warning(f"Task token expired for callback {redact(claim.callback_token)}")
                result = record_result(job, outcome)
                self._finalize(claim, RecordStatus.EXPIRED, result, sent=None)
                raise TaskExpired("the task no longer waits for this callback") from gone
            logger.info(f"Callback {redact(claim.callback_token)} resumed by an earlier attempt")
            if claim.sent is not None:  # record what the task most likely got
                outcome = _as_outcome(claim.sent)
        return self._finish(claim, job, outcome)

    def _finish(self, claim: Claim, job: JobStatus, outcome: TaskOutcome) -> Delivered:
        """Record the outcome the task got (kept on the record as surely sent, should this fail)."""
        sent = _sent(outcome, for_sure=True)
        self._finalize(claim, outcome.record_status, record_result(job, outcome), sent=sent)
        return _delivered(job, outcome, claim.callback_token)

    def _send(
        self, claim: Claim, job: JobStatus, context: TaskContext, outcome: TaskOutcome
    ) -> TaskOutcome:
        """Send the outcome; what Step Functions refuses as it is becomes a typed task failure."""
        try:
            self._send_within_lease(claim, outcome)
            return outcome
        except SendRefused as refused:
            if not outcome.succeeded:  # a failure refused: the task token itself is unusable
                raise TokenGone(str(refused), maybe_delivered=False) from refused
            reason = f"Step Functions refused the task output: {refused}"
            logger.warning(f"{reason}; failing the task with {INVALID_OUTPUT}")
            fallback = failed_task(INVALID_OUTPUT, job, context, reason)
        try:
            self._send_within_lease(claim, fallback)
        except SendRefused as refused:
            raise TokenGone(str(refused), maybe_delivered=False) from refused
        return fallback

    def _send_within_lease(self, claim: Claim, outcome: TaskOutcome) -> None:
        if self._store.lease_time_left_ms(claim) < WORST_CALL_MS:
            self._release(claim)
            raise AwsUnavailable("the record was claimed too slowly to send within the lease")
        try:
            send_outcome(self._stepfunctions, claim.task_token, outcome)
        except SendFailed as failure:
            maybe = _sent(outcome, for_sure=False) if failure.maybe_delivered else None
            self._release(claim, maybe)
            raise AwsUnavailable(f"Step Functions call failed: {failure}") from failure

    def _finalize(
        self, claim: Claim, status: str, result: dict[str, Any], *, sent: SentOutcome | None
    ) -> None:
        """Record the outcome (``sent``: what the task got, kept should this fail); a result
        DynamoDB refuses is stored in its minimal form."""
        for candidate in (result, _minimal_result(result)):
            try:
                if not self._store.finalize(claim, status, candidate):
                    logger.warning("Lease ran out before finalizing; its new holder finalizes")
                return
            except AwsUnavailable:
                self._release(claim, sent)
                raise
            except RecordRefused as refused:
                logger.warning(f"Could not store the result as it is: {refused}")
        logger.error(f"Could not record {status} on callback {redact(claim.callback_token)}")

    def _release(self, claim: Claim, sent: SentOutcome | None = None) -> None:
        try:
            self._store.release(claim, sent=sent)
        except (AwsUnavailable, RecordRefused):
            logger.warning("Could not release the lease; it runs out by itself", exc_info=True)


def _sent(outcome: TaskOutcome, *, for_sure: bool) -> SentOutcome:
    return SentOutcome(outcome.record_status, outcome.error, outcome.output_s3, for_sure)


def _as_outcome(sent: SentOutcome) -> TaskOutcome:
    """What an earlier delivery sent, to record (it is not sent again)."""
    return TaskOutcome(
        record_status=sent.record_status, error=sent.step_functions_error, output_s3=sent.output_s3
    )


def _minimal_result(result: dict[str, Any]) -> dict[str, Any]:
    kept = {name: result.get(name) for name in ("job_id", "runpod_status", "step_functions_error")}
    return {**kept, "result_omitted": "DynamoDB refused the full result"}


def _delivered(job: JobStatus, outcome: TaskOutcome, callback_token: str) -> Delivered:
    timings = {
        name: float(value)
        for name, value in (
            ("RunPodDelayTime", job.delay_time_ms),
            ("RunPodExecutionTime", job.execution_time_ms),
        )
        if value is not None and _plausible_metric(value)
    }
    if outcome.succeeded:
        logger.info(f"Sent TaskSuccess for job {job.job_id}")
        return Delivered("TaskSucceeded", outcome.record_status, "task resumed", timings)
    message = _loggable(outcome.message or str(outcome.error), callback_token)
    logger.info(f"Sent TaskFailure for job {job.job_id}: {message} ({outcome.error})")
    return Delivered(
        "TaskFailed", outcome.record_status, f"task failed with {outcome.error}", timings
    )


def _plausible_metric(value: Milliseconds) -> bool:
    low, high = METRIC_MILLISECONDS
    return value == 0 or low <= value <= high


def _loggable(message: str, callback_token: str) -> str:
    """RunPod's message for one log line: short, valid UTF-8, and never the whole token."""
    shortened = message[:LOGGED_MESSAGE_CHARACTERS]
    return carried_text(shortened).replace(callback_token, redact(callback_token))
