"""Exactly one SendTask* per callback token: one delivery of an ended job, by the webhook or
the watchdog, from the claim to the finished record.

| step          | the record                              | how it can end                         |
|---------------|-----------------------------------------|----------------------------------------|
| claim         | PENDING, no live lease: leased here     | unknown 404; other job 409; in flight  |
|               |                                         | 409; EXPIRED 410; finished: duplicate  |
| earlier send  | an earlier send was surely taken        | record it, send nothing again (200)    |
| decide        | (an output too large is written to S3)  | S3 unavailable: release, 503           |
| mark the send | lease renewed; in ``maybe_delivered_by``| lease taken over meanwhile: 409        |
|               |                                         | refused by DynamoDB: send unmarked     |
| send          |                                         | taken: finalize (200)                  |
|               |                                         | refused as it is: RunPod.InvalidOutput |
|               |                                         | transient: release, keeping what may   |
|               |                                         | have been sent, 503                    |
|               |                                         | expired: maybe delivered before?       |
|               |                                         | finalize that (200); else EXPIRED (410)|
| finalize      | COMPLETED / FAILED / EXPIRED            | lease lost: its new holder finalizes   |
|               |                                         | refused: minimal result, then status   |

A send that may have reached Step Functions is never repeated by a later delivery that finds the
task expired: it records the job as delivered. A delivery that dies before its send leaves no
mark, so a later one that finds the task expired reports it expired.

``deliver`` returns what happened: Delivered (200), or Refused with the 4xx it stands for (the
watchdog settles some of them). Only a transient AWS failure is raised (AwsUnavailable, 503):
nothing is lost, and a retry gets the answer.
"""

from collections.abc import Callable
from decimal import Decimal
from enum import Enum
from typing import Any, NamedTuple

from aws_lambda_powertools import Logger

from runpod_callbacks.aws import WORST_CALL_MS
from runpod_callbacks.callback_records import (
    CallbackRecords,
    Claim,
    Finished,
    Refused,
    SentOutcome,
)
from runpod_callbacks.errors import (
    AwsUnavailable,
    CorruptRecord,
    DeliveryInFlight,
    RecordRefused,
    TaskError,
    TaskExpired,
    UnknownCallback,
)
from runpod_callbacks.job_cost import estimated_cost_usd
from runpod_callbacks.job_logs import log_outcome, redact, scrub
from runpod_callbacks.job_status import JobStatus, Milliseconds
from runpod_callbacks.json_text import carried_text
from runpod_callbacks.large_outputs import LargeOutputStore
from runpod_callbacks.metric_names import Metric
from runpod_callbacks.record_table import RecordStatus, iso_now
from runpod_callbacks.step_functions import Heartbeat, SendAnswer, Sent, heartbeat, resume_task
from runpod_callbacks.task_outcome import (
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


class Resumed(Enum):
    HERE = "here"
    """This delivery resumed the task."""
    EARLIER = "earlier"
    """An earlier attempt resumed it and could not record it; this one recorded it."""
    ALREADY = "already"
    """The record was finished already: a duplicate delivery, nothing sent."""


class Delivered(NamedTuple):
    resumed: Resumed
    record_status: str
    message: str
    runpod_timings_ms: dict[Metric, float]
    """RunPod's delay and execution times, reported once: by the delivery that resumed the task."""
    endpoint_id: str | None = None
    estimated_cost_usd: Decimal | None = None
    """The job's GPU time at its endpoint's price (job_cost), when a price is given."""

    @property
    def metric(self) -> Metric:
        if self.resumed is Resumed.ALREADY:
            return Metric.DUPLICATE_DELIVERY
        if self.record_status == RecordStatus.COMPLETED:
            return Metric.TASK_SUCCEEDED
        return Metric.TASK_FAILED


class ResultDelivery:
    def __init__(
        self,
        records: CallbackRecords,
        stepfunctions: Any,
        large_outputs: LargeOutputStore | None = None,
    ) -> None:
        self._records = records
        self._stepfunctions = stepfunctions
        self._large_outputs = large_outputs

    def deliver(
        self, callback_token: str, job: JobStatus, decide: Decide | None = None
    ) -> Delivered | Refused:
        """Resume the task with what the job's report becomes, exactly once; Refused when the
        record is not this delivery's to resume (unknown, in flight, expired, ...). Raises
        AwsUnavailable when AWS failed transiently: nothing is lost, a retry gets the answer.

        ``decide`` defaults to RunPod's report as it is (decide_outcome, its output in S3 when
        it does not fit and large outputs are on).
        """
        logger.info(
            f"Processing RunPod job {job.job_id} with status {job.status} "
            f"for callback {redact(callback_token)}"
        )
        claim = self._claim(callback_token, job.job_id)
        if isinstance(claim, Refused):
            return claim
        if isinstance(claim, Claim) and claim.endpoint_id:
            logger.thread_safe_append_keys(endpoint_id=claim.endpoint_id)
        if isinstance(claim, Finished):  # a duplicate
            status = claim.record_status.lower()
            log_outcome(
                f"Callback {redact(callback_token)} already {status}, returning success",
                Metric.DUPLICATE_DELIVERY,
            )
            return Delivered(Resumed.ALREADY, claim.record_status, f"already {status}", {})
        if claim.sent is not None and claim.sent.surely_delivered:
            # An earlier delivery resumed the task and only failed to record it: record what it
            # sent, deciding (and writing to S3) nothing again.
            logger.info(f"Callback {redact(callback_token)} resumed by an earlier attempt")
            return self._finish(claim, job, _outcome_of(claim.sent), Resumed.EARLIER)
        context = TaskContext(callback_token, claim.exec_id, claim.segment_filename)
        try:
            outcome = (decide or self._decide_outcome)(job, context)
        except AwsUnavailable:  # the output could not be stored: nothing was sent
            self._release(claim)
            raise
        return self._resume(claim, job, context, outcome)

    def expire(
        self, callback_token: str, job_id: str, reason: str, cancel_job: CancelJob | None = None
    ) -> bool:
        """Mark EXPIRED the record of a task that no longer waits, once its job is cancelled.

        False, and nothing changed, when the record is not this call's to expire: finished,
        expired or in flight meanwhile, or an earlier delivery may have resumed the task (then it
        did not expire). Raises a record's other refusals (unknown, corrupt, ...), and what
        ``cancel_job`` raises, the record left as it was.
        """
        claim = self._claim(callback_token, job_id)
        match claim:
            case Finished() | Refused(why=DeliveryInFlight() | TaskExpired()):
                return False
            case Refused(why=why):
                raise why
        if claim.maybe_delivered:
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

    def heartbeat(self, task_token: str) -> Heartbeat:
        """Heartbeat the task (its HeartbeatSeconds then works as a liveness check)."""
        return heartbeat(self._stepfunctions, task_token)

    def _decide_outcome(self, job: JobStatus, context: TaskContext) -> TaskOutcome:
        return decide_outcome(job, context, self._large_outputs)

    def _claim(self, callback_token: str, job_id: str) -> Claim | Finished | Refused:
        try:
            claimed = self._records.claim(callback_token, job_id)
        except RecordRefused as refused:
            return Refused(CorruptRecord(f"callback record cannot be claimed: {refused}"))
        if isinstance(claimed, Refused) and isinstance(claimed.why, UnknownCallback):
            logger.warning(f"Callback token {redact(callback_token)} not found in DynamoDB")
        return claimed

    def _resume(
        self, claim: Claim, job: JobStatus, context: TaskContext, outcome: TaskOutcome
    ) -> Delivered | Refused:
        sent = self._send(claim, outcome)
        if isinstance(sent, Refused):
            return sent
        claim, answer = sent
        if answer.sent is Sent.REFUSED and outcome.succeeded:
            reason = f"Step Functions refused the task output: {answer.reason}"
            logger.warning(f"{reason}; failing the task with {TaskError.INVALID_OUTPUT}")
            outcome = failed_task(TaskError.INVALID_OUTPUT, job, context, reason)
            sent = self._send(claim, outcome)
            if isinstance(sent, Refused):
                return sent
            claim, answer = sent
        if answer.sent is Sent.DELIVERED:
            return self._finish(claim, job, outcome, Resumed.HERE)
        if answer.sent is Sent.FAILED:
            maybe = _sent(outcome, surely_delivered=False) if answer.maybe_delivered else None
            self._release(claim, maybe)
            raise AwsUnavailable(f"Step Functions call failed: {answer.reason}")
        # The task expired (or a failure was refused too: its token is unusable).
        if answer.maybe_delivered or claim.maybe_delivered:
            logger.info(f"Callback {redact(claim.callback_token)} resumed by an earlier attempt")
            if claim.sent is not None:  # record what the task most likely got
                outcome = _outcome_of(claim.sent)
            return self._finish(claim, job, outcome, Resumed.EARLIER)
        log_outcome(
            f"Task token expired for callback {redact(claim.callback_token)}",
            Metric.TASK_EXPIRED,
            warning=True,
        )
        self._finalize(claim, RecordStatus.EXPIRED, record_result(job, outcome), sent=None)
        return Refused(TaskExpired("the task no longer waits for this callback"))

    def _send(self, claim: Claim, outcome: TaskOutcome) -> tuple[Claim, SendAnswer] | Refused:
        """Mark the send on the record (renewing the lease), then send; the claim as renewed.
        Refused, nothing sent, when another delivery took the record over meanwhile."""
        try:
            marked = self._records.mark_sending(claim)
        except AwsUnavailable:
            self._release(claim)
            raise
        except RecordRefused as refused:  # every retry would meet it: send unmarked
            logger.warning(f"Could not mark the send on the record ({refused}); sending anyway")
        else:
            if isinstance(marked, Refused):
                return marked
            claim = marked
        if self._records.lease_time_left_ms(claim) < WORST_CALL_MS:
            self._release(claim)
            raise AwsUnavailable("the record was marked too slowly to send within the lease")
        answer = resume_task(
            self._stepfunctions,
            claim.task_token,
            output=outcome.output if outcome.succeeded else None,
            error=outcome.error,
            cause=outcome.cause,
        )
        return claim, answer

    def _finish(
        self, claim: Claim, job: JobStatus, outcome: TaskOutcome, resumed: Resumed
    ) -> Delivered:
        """Record the outcome the task got (kept on the record as surely sent, should this fail)."""
        sent = _sent(outcome, surely_delivered=True)
        cost = estimated_cost_usd(claim.endpoint_id, job.execution_time_ms)
        result = record_result(job, outcome)
        if cost is not None:
            result["estimated_cost_usd"] = cost
        self._finalize(claim, outcome.record_status, result, sent=sent)
        delivered = _delivered(job, outcome, claim.callback_token, resumed, cost)
        return delivered._replace(endpoint_id=claim.endpoint_id, estimated_cost_usd=cost)

    def _finalize(
        self, claim: Claim, status: str, result: dict[str, Any], *, sent: SentOutcome | None
    ) -> None:
        """Record the outcome (``sent``: what the task got, kept should this fail); a result
        DynamoDB refuses is stored in its minimal form, or not at all."""
        for candidate in (result, _minimal_result(result), None):
            try:
                if not self._records.finalize(claim, status, candidate):
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
            self._records.release(claim, sent=sent)
        except (AwsUnavailable, RecordRefused):
            logger.warning("Could not release the lease; it runs out by itself", exc_info=True)


def _sent(outcome: TaskOutcome, *, surely_delivered: bool) -> SentOutcome:
    return SentOutcome(outcome.record_status, outcome.error, outcome.output_s3, surely_delivered)


def _outcome_of(sent: SentOutcome) -> TaskOutcome:
    """What an earlier delivery sent, to record (it is not sent again)."""
    return TaskOutcome(
        record_status=sent.record_status, error=sent.step_functions_error, output_s3=sent.output_s3
    )


def _minimal_result(result: dict[str, Any]) -> dict[str, Any]:
    kept = {name: result.get(name) for name in ("job_id", "runpod_status", "step_functions_error")}
    return {**kept, "result_omitted": "DynamoDB refused the full result"}


def _delivered(
    job: JobStatus,
    outcome: TaskOutcome,
    callback_token: str,
    resumed: Resumed,
    cost: Decimal | None,
) -> Delivered:
    timings = {
        name: float(value)
        for name, value in (
            (Metric.RUNPOD_DELAY_TIME, job.delay_time_ms),
            (Metric.RUNPOD_EXECUTION_TIME, job.execution_time_ms),
        )
        if value is not None and _plausible_metric(value)
    }
    facts = {
        "runpod_execution_ms": timings.get(Metric.RUNPOD_EXECUTION_TIME),
        "runpod_delay_ms": timings.get(Metric.RUNPOD_DELAY_TIME),
        "estimated_cost_usd": None if cost is None else float(cost),
    }
    if outcome.succeeded:
        log_outcome(f"Sent TaskSuccess for job {job.job_id}", Metric.TASK_SUCCEEDED, facts=facts)
        return Delivered(resumed, outcome.record_status, "task resumed", timings)
    message = scrub(outcome.message or str(outcome.error), callback_token)
    message = carried_text(message[:LOGGED_MESSAGE_CHARACTERS])
    log_outcome(
        f"Sent TaskFailure for job {job.job_id}: {message} ({outcome.error})",
        Metric.TASK_FAILED,
        facts=facts,
    )
    return Delivered(resumed, outcome.record_status, f"task failed with {outcome.error}", timings)


def _plausible_metric(value: Milliseconds) -> bool:
    low, high = METRIC_MILLISECONDS
    return value == 0 or low <= value <= high
