"""Lambda entry point, run on a schedule: recover results whose webhooks were lost, heartbeat
running jobs, cancel the RunPod jobs nobody waits for (see runpod_callbacks/watchdog_run.py)."""

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from runpod_callbacks import aws
from runpod_callbacks.api_key import ApiKeyCache
from runpod_callbacks.callback_records import CallbackRecords
from runpod_callbacks.job_cost import prices, publish_cost
from runpod_callbacks.large_outputs import large_output_store
from runpod_callbacks.metric_names import Metric, namespace
from runpod_callbacks.record_table import RecordTable
from runpod_callbacks.result_delivery import ResultDelivery
from runpod_callbacks.runpod_api import RunPodApi
from runpod_callbacks.stale_records import StaleRecords
from runpod_callbacks.tracing import capture_lambda_handler
from runpod_callbacks.watchdog_run import Settled, Summary, WatchdogRun, WatchdogSettings

REQUIRED_SETTINGS = ("CALLBACK_TABLE_NAME", "RUNPOD_API_KEY_SECRET_ARN")

logger = Logger()
metrics = Metrics(namespace=namespace())

dynamodb = aws.client("dynamodb")
stepfunctions = aws.client("stepfunctions", tries=1)
secretsmanager = aws.client("secretsmanager")
api_keys = ApiKeyCache(secretsmanager)

aws.required_settings(REQUIRED_SETTINGS)  # fail the cold start, not the first run
prices()


def settings() -> WatchdogSettings:
    return WatchdogSettings(
        stale_after_s=_whole_number("STALE_AFTER_SECONDS", WatchdogSettings.stale_after_s),
        max_records=_whole_number("MAX_RECORDS_PER_RUN", WatchdogSettings.max_records),
    )


def watch(context: LambdaContext) -> Summary:
    table_name, secret_arn = aws.required_settings(REQUIRED_SETTINGS)
    api_key = api_keys.source(secret_arn)
    runpod = RunPodApi.background(api_key)
    table = RecordTable(dynamodb, table_name)
    delivery = ResultDelivery(CallbackRecords(table), stepfunctions, large_output_store())
    run = WatchdogRun(
        StaleRecords(table),
        delivery,
        runpod,
        read_api_key=lambda: api_key(False),  # when a record needs RunPod: idle runs read none
        settings=settings(),
        time_left_ms=context.get_remaining_time_in_millis,
    )
    return run.run()


@logger.inject_lambda_context
@metrics.log_metrics(raise_on_empty_metrics=False)
@capture_lambda_handler
def lambda_handler(event: Any, context: LambdaContext) -> dict[str, int]:
    """The schedule's event carries nothing the run needs."""
    summary = watch(context)
    # Only what happened: a custom metric is billed for every hour it is published, zeros too.
    for metric, count in (
        (Metric.RECOVERED_BY_WATCHDOG, summary[Settled.RECOVERED]),
        (Metric.JOB_LOST, summary[Settled.LOST]),
        (Metric.ORPHAN_JOB_CANCELLED, summary[Settled.CANCELLED]),
        (Metric.WATCHDOG_BEHIND, summary[Settled.BEHIND]),
        (Metric.RUNPOD_UNANSWERED, summary[Settled.UNANSWERED]),
        (Metric.WATCHDOG_ERRORS, summary[Settled.ERROR]),
    ):
        if count:
            metrics.add_metric(name=metric, unit=MetricUnit.Count, value=count)
    if summary.oldest_wait_s is not None:
        metrics.add_metric(
            name=Metric.OLDEST_WAIT, unit=MetricUnit.Seconds, value=summary.oldest_wait_s
        )
    for endpoint_id, usd in summary.gpu_cost_usd.items():
        publish_cost(endpoint_id, usd)
    logger.info(f"Watchdog run: {summary.line()}", extra={"summary": summary.counts()})
    return summary.counts()


def _whole_number(name: str, default: int) -> int:
    text = os.environ.get(name)
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise RuntimeError(f"environment variable {name} must be a whole number above 0")
    return int(text)
