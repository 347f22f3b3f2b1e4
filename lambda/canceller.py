"""Lambda entry point, on EventBridge's "Step Functions Execution Status Change" events: when an
execution stops (ABORTED, TIMED_OUT, FAILED), cancel the RunPod jobs its tasks waited for, at
once, and mark their records EXPIRED. The watchdog's sweep stays the backstop: Express workflows
emit no such events, and a branch that stops waiting inside a running execution is no execution
event."""

import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from runpod_callbacks import aws
from runpod_callbacks.api_key import ApiKeyCache
from runpod_callbacks.callback_records import CallbackRecords
from runpod_callbacks.job_cancel import Cancelled, cancel_and_expire
from runpod_callbacks.job_logs import about_job, log_outcome
from runpod_callbacks.metric_names import Metric, namespace
from runpod_callbacks.pacing import RunPodLimits
from runpod_callbacks.record_table import RecordTable
from runpod_callbacks.result_delivery import ResultDelivery
from runpod_callbacks.runpod_api import RunPodApi
from runpod_callbacks.stopped_executions import (
    ExecutionRecords,
    StoppedExecution,
    stopped_execution,
)
from runpod_callbacks.tracing import capture_lambda_handler

REQUIRED_SETTINGS = ("CALLBACK_TABLE_NAME", "RUNPOD_API_KEY_SECRET_ARN")
# Keep this much of the function's time: a job not cancelled by then waits for the next event's
# retry, or the watchdog.
SPARE_MS = 10_000

logger = Logger()
metrics = Metrics(namespace=namespace())

dynamodb = aws.client("dynamodb")
stepfunctions = aws.client("stepfunctions", tries=1)
api_keys = ApiKeyCache(aws.client("secretsmanager"))
# One instance at a time (reserved concurrency 1): its pacing holds across invocations.
runpod_limits = RunPodLimits(status_at_once=1)

aws.required_settings(REQUIRED_SETTINGS)  # fail the cold start, not the first event


def cancel_jobs_of(stopped: StoppedExecution, context: LambdaContext) -> Counter[Cancelled]:
    table_name, secret_arn = aws.required_settings(REQUIRED_SETTINGS)
    table = RecordTable(dynamodb, table_name)
    delivery = ResultDelivery(CallbackRecords(table), stepfunctions)
    runpod = RunPodApi.background(api_keys.source(secret_arn))
    deadline = time.monotonic() + (context.get_remaining_time_in_millis() - SPARE_MS) / 1000
    reason = f"its execution was {stopped.status}"
    counts: Counter[Cancelled] = Counter()
    for record in ExecutionRecords(table).pending_of(stopped.execution_arn):
        token, job_id = str(record["callback_token"]), str(record.get("job_id") or "")
        endpoint_id = str(record.get("endpoint_id") or "")
        with about_job(token, job_id, endpoint_id):
            if job_id and endpoint_id:
                cancelled = cancel_and_expire(
                    delivery,
                    runpod,
                    runpod_limits,
                    callback_token=token,
                    job_id=job_id,
                    endpoint_id=endpoint_id,
                    reason=reason,
                    deadline=deadline,
                )
            else:  # no job RunPod could cancel (its id was never stored): the record expires
                expired = delivery.expire(token, job_id, reason)
                cancelled = Cancelled.YES if expired else Cancelled.NOT_OURS
            counts[cancelled] += 1
            if cancelled is Cancelled.YES:
                log_outcome(_cancelled_line(job_id, stopped), cancelled.value, warning=True)
    return counts


def _cancelled_line(job_id: str, stopped: StoppedExecution) -> str:
    since = ""
    if stopped.stopped_at is not None:
        seconds = (datetime.now(UTC) - stopped.stopped_at).total_seconds()
        since = f" {seconds:.1f} s after"
    return f"Cancelled RunPod job {job_id}{since}: its execution was {stopped.status}"


@logger.inject_lambda_context
@metrics.log_metrics(raise_on_empty_metrics=False)
@capture_lambda_handler
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, int]:
    stopped = stopped_execution(event)
    if stopped is None:
        logger.info("Not an execution that stopped: nothing to cancel")
        return {}
    counts = cancel_jobs_of(stopped, context)
    if counts[Cancelled.YES]:
        metrics.add_metric(
            name=Metric.ORPHAN_JOB_CANCELLED, unit=MetricUnit.Count, value=counts[Cancelled.YES]
        )
    if counts[Cancelled.RUNPOD_UNAVAILABLE] or counts[Cancelled.NO_TIME]:
        # Lambda tries the event again (twice); the watchdog's sweep comes after that.
        raise RuntimeError(f"RunPod jobs of {stopped.execution_arn} left to cancel")
    return {kind.value: count for kind, count in counts.items()}
