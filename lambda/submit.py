"""Lambda entry point: submit a RunPod job for a task waiting on `lambda:invoke.waitForTaskToken`.

The record (with the task token) is written before RunPod hears of the job, so even a job that
fails at once finds its record when the webhook arrives.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from runpod_callbacks import aws
from runpod_callbacks.api_key import ApiKeyCache
from runpod_callbacks.errors import ApiKeyUnavailable, SubmitError, SubmitFailed
from runpod_callbacks.job_logs import about_job, log_outcome
from runpod_callbacks.metric_names import Metric, namespace
from runpod_callbacks.record_table import RecordTable
from runpod_callbacks.runpod_api import RunPodApi, base_url
from runpod_callbacks.submission import (
    AFTER_RUNPOD_MS,
    JobSubmission,
    SubmissionRecords,
    callback_token_for,
    fail_waiting_task,
    parse_submit_request,
)
from runpod_callbacks.tracing import capture_lambda_handler

REQUIRED_SETTINGS = ("CALLBACK_TABLE_NAME", "WEBHOOK_BASE_URL", "RUNPOD_API_KEY_SECRET_ARN")

logger = Logger()
metrics = Metrics(namespace=namespace())

dynamodb = aws.client("dynamodb")
stepfunctions = aws.client("stepfunctions", tries=1)
api_keys = ApiKeyCache(aws.client("secretsmanager"))

aws.required_settings(REQUIRED_SETTINGS)  # fail the cold start, not the first job


def submit_job(payload: Any, context: LambdaContext) -> dict[str, Any]:
    table, webhook_base_url, secret_arn = aws.required_settings(REQUIRED_SETTINGS)
    with failure_logged():
        request = parse_submit_request(payload)
    callback_token = callback_token_for(request.task_token)
    api_key = api_keys.source(secret_arn)
    runpod = RunPodApi(
        base_url(),
        api_key,
        # RunPod's retries stop while the job id's writes still fit in the function's time.
        time_left_s=lambda: (context.get_remaining_time_in_millis() - AFTER_RUNPOD_MS) / 1000,
    )
    submission = JobSubmission(
        SubmissionRecords(RecordTable(dynamodb, table)), runpod, webhook_base_url
    )
    with about_job(callback_token, "", request.endpoint_id), failure_logged():
        try:
            api_key(False)  # a key that cannot be read fails here, before anything is written
        except ApiKeyUnavailable as unavailable:
            raise SubmitFailed(str(unavailable)) from None
        submitted = submission.submit(request, callback_token)
    accepted = submitted.status != "SUBMITTED_UNCERTAIN"
    outcome = Metric.SUBMIT_ACCEPTED if accepted else Metric.SUBMIT_UNCERTAIN
    metrics.add_metric(name=outcome, unit=MetricUnit.Count, value=1)
    if not submitted.job_id_recorded:
        metrics.add_metric(name=Metric.JOB_ID_NOT_RECORDED, unit=MetricUnit.Count, value=1)
    return {"job_id": submitted.job_id, "status": submitted.status}


@contextmanager
def failure_logged() -> Iterator[None]:
    try:
        yield
    except SubmitError as error:
        log_outcome(f"Submission failed: {error}", error.metric_name, warning=True)
        raise


@logger.inject_lambda_context
@metrics.log_metrics
@capture_lambda_handler
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, Any]:
    try:
        return submit_job(event, context)
    except SubmitError as error:
        metrics.add_metric(name=error.metric_name, unit=MetricUnit.Count, value=1)
        fail_waiting_task(stepfunctions, event, error)
        raise
