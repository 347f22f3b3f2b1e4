"""X-Ray tracing, imported only when switched on: aws-xray-sdk costs ~0.2 s of cold start."""

import os
from collections.abc import Callable
from typing import Any, TypeVar, cast

Handler = TypeVar("Handler", bound=Callable[..., Any])


def tracing_enabled() -> bool:
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "true").lower() not in {"true", "1"}


def capture_lambda_handler(handler: Handler) -> Handler:
    if not tracing_enabled():
        return handler
    from aws_lambda_powertools import Tracer  # noqa: PLC0415 - deferred on purpose, see above

    return cast(Handler, Tracer().capture_lambda_handler(handler))
