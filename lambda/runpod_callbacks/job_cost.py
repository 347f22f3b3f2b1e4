"""A job's estimated GPU cost. RunPod bills worker time by the second; given a price a second for
the job's endpoint (GPU_PRICE_PER_SECOND: JSON, {"<endpoint id>": USD, "*": USD for the
others}), a job costs its executionTime times that price. Cold starts and idle workers are billed
too but belong to no job: the estimate leaves them out, so it is below RunPod's bill."""

import functools
import json
import os
from decimal import Decimal

from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

from runpod_callbacks.job_status import Milliseconds
from runpod_callbacks.metric_names import Metric, namespace

PRICES_VARIABLE = "GPU_PRICE_PER_SECOND"
ANY_ENDPOINT = "*"
CENT_FRACTIONS = Decimal("0.000001")


def prices() -> dict[str, Decimal]:
    """The prices the environment gives, by endpoint id; none when it gives none. A value that is
    not such JSON fails the cold start, naming the variable."""
    return _parse(os.environ.get(PRICES_VARIABLE) or "{}")


def estimated_cost_usd(
    endpoint_id: str | None, execution_time_ms: Milliseconds | None
) -> Decimal | None:
    if execution_time_ms is None or execution_time_ms < 0:
        return None
    known = prices()
    price = known.get(endpoint_id or "", known.get(ANY_ENDPOINT))
    if price is None:
        return None
    return (Decimal(execution_time_ms) / 1000 * price).quantize(CENT_FRACTIONS)


def publish_cost(endpoint_id: str, usd: Decimal) -> None:
    """One EstimatedGpuCost data point, with the endpoint as a dimension besides ``service``
    (in a document of its own: the function's other metrics have no such dimension)."""
    metrics = EphemeralMetrics(namespace=namespace())
    metrics.add_dimension(name="endpoint_id", value=endpoint_id)
    metrics.add_metric(name=Metric.ESTIMATED_GPU_COST, unit=MetricUnit.NoUnit, value=float(usd))
    metrics.flush_metrics()


@functools.cache
def _parse(text: str) -> dict[str, Decimal]:
    try:
        document = json.loads(text, parse_float=Decimal, parse_int=Decimal)
    except ValueError:
        document = None
    if not isinstance(document, dict) or not all(
        isinstance(price, Decimal) and price >= 0 for price in document.values()
    ):
        raise RuntimeError(
            f"environment variable {PRICES_VARIABLE} must be a JSON object of endpoint ids"
            " (or *) to USD a second"
        )
    return document
