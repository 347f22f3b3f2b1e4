"""The context object Lambda passes to a handler, for running the handler outside Lambda."""

import uuid
from dataclasses import dataclass, field

# The time a fresh invocation has left: the functions' default timeouts (variables.tf).
WEBHOOK_TIMEOUT_MS = 25_000
SUBMIT_TIMEOUT_MS = 60_000
WATCHDOG_TIMEOUT_MS = 120_000


@dataclass
class LocalLambdaContext:
    function_name: str = "local-runpod-webhook"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:local-runpod-webhook"
    )
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    remaining_time_ms: int = WEBHOOK_TIMEOUT_MS

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_time_ms
