"""Lambda entry point: RunPod's webhook → API Gateway (REST, proxy) → resume Step Functions."""

import json
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, ServiceError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from runpod_callbacks import aws
from runpod_callbacks.callback_records import CallbackRecords, Refused
from runpod_callbacks.errors import AwsUnavailable, WebhookError
from runpod_callbacks.job_cost import prices, publish_cost
from runpod_callbacks.job_logs import about_job, log_outcome, redact
from runpod_callbacks.job_status import body_text, parse_callback_token, parse_ended_job
from runpod_callbacks.large_outputs import large_output_store
from runpod_callbacks.metric_names import Metric, namespace
from runpod_callbacks.record_table import RecordTable
from runpod_callbacks.result_delivery import ResultDelivery
from runpod_callbacks.tracing import capture_lambda_handler

TABLE_NAME_VARIABLE = "CALLBACK_TABLE_NAME"

logger = Logger()
metrics = Metrics(namespace=namespace())
app = APIGatewayRestResolver()

dynamodb = aws.client("dynamodb")
stepfunctions = aws.client("stepfunctions", tries=1)


def callback_table_name() -> str:
    return aws.required_setting(TABLE_NAME_VARIABLE)


callback_table_name()  # fail the cold start, not the first webhook, when the table is not set
prices()  # and when the GPU prices cannot be read


@app.post("/webhook/<callback_token>")
def receive_webhook(callback_token: str) -> dict[str, str]:
    event = app.current_event
    token = parse_callback_token(callback_token)
    job = parse_ended_job(body_text(event.body, base64_encoded=bool(event.is_base64_encoded)))
    app.append_context(job_id=job.job_id)  # type: ignore[no-untyped-call]
    records = CallbackRecords(RecordTable(dynamodb, app.context["table_name"]))
    with about_job(token, job.job_id):
        delivered = ResultDelivery(records, stepfunctions, large_output_store()).deliver(token, job)
    if isinstance(delivered, Refused):
        raise delivered.why  # answered by refuse_webhook
    metrics.add_metric(name=delivered.metric, unit=MetricUnit.Count, value=1)
    for metric, milliseconds in delivered.runpod_timings_ms.items():
        metrics.add_metric(name=metric, unit=MetricUnit.Milliseconds, value=milliseconds)
    if delivered.estimated_cost_usd is not None and delivered.endpoint_id:
        publish_cost(delivered.endpoint_id, delivered.estimated_cost_usd)
    return {"status": delivered.record_status, "message": delivered.message}


@app.exception_handler(WebhookError)  # type: ignore[untyped-decorator]
def refuse_webhook(error: WebhookError) -> Response[str]:
    log_outcome(
        f"Webhook refused with {int(error.status_code)}: {error}",
        error.metric_name,
        facts=_job_keys(),
    )
    return _answer(int(error.status_code), error.metric_name, str(error))


@app.exception_handler(AwsUnavailable)  # type: ignore[untyped-decorator]
def try_again_later(error: AwsUnavailable) -> Response[str]:
    logger.exception(f"Webhook not processed: {error}", extra=_job_keys())
    return _answer(503, Metric.AWS_UNAVAILABLE, str(error))


@app.not_found
def no_such_route(error: NotFoundError) -> Response[str]:
    return _answer(404, Metric.UNKNOWN_ROUTE, "no such route")


@app.exception_handler(ServiceError)  # type: ignore[untyped-decorator]
def powertools_error(error: ServiceError) -> Response[str]:
    return _answer(error.status_code, Metric.INVALID_WEBHOOK, str(error.msg))


@app.exception_handler(Exception)  # type: ignore[untyped-decorator]
def unexpected_error(error: Exception) -> Response[str]:
    logger.exception("Unexpected error while processing the webhook")
    return _answer(500, Metric.UNEXPECTED_ERROR, "internal error")


def _job_keys() -> dict[str, str | None]:
    """The keys of the job a refusal is about, as far as the request names it (the lines logged
    while the job was handled carry them already: about_job)."""
    token = (app.current_event.path_parameters or {}).get("callback_token")
    return {"callback": redact(token) if token else None, "job_id": app.context.get("job_id")}


def _answer(status_code: int, metric: Metric, message: str) -> Response[str]:
    metrics.add_metric(name=metric, unit=MetricUnit.Count, value=1)
    return Response(
        status_code=status_code,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps({"message": message}),
    )


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@metrics.log_metrics
@capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    app.append_context(table_name=callback_table_name())  # type: ignore[no-untyped-call]
    return app.resolve(event, context)
