"""One Lambda instance in its own process, as Lambda runs concurrent invocations."""

import json
import os
from multiprocessing.synchronize import Barrier
from queue import Queue
from typing import Any


def deliver_once(
    endpoint: str, callback_token: str, body: dict[str, Any], start: Barrier, results: Queue[int]
) -> None:
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    import webhook
    from localdev.lambda_context import LocalLambdaContext
    from localdev.local_webhook import webhook_event

    event = webhook_event(callback_token, json.dumps(body))
    start.wait(timeout=120)  # every instance is warm: they race for the record together
    response = webhook.lambda_handler(event, LocalLambdaContext())
    results.put(response["statusCode"])


def watch_once(
    endpoint: str, settings: dict[str, str], start: Barrier, results: Queue[int]
) -> None:
    """One watchdog run in its own instance; puts how many jobs it recovered."""
    os.environ.update({"AWS_ENDPOINT_URL": endpoint, **settings})
    import watchdog
    from localdev.lambda_context import LocalLambdaContext

    start.wait(timeout=120)
    summary = watchdog.lambda_handler({}, LocalLambdaContext(remaining_time_ms=120_000))
    results.put(summary["recovered"])
