"""Settings every test shares. The handler reads its environment at import, so set it first."""

import os

os.environ.update(
    {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "CALLBACK_TABLE_NAME": "test-runpod-callbacks",
        "POWERTOOLS_SERVICE_NAME": "runpod-webhook",
        "POWERTOOLS_METRICS_NAMESPACE": "RunPodWebhookTests",
        "LOG_LEVEL": "INFO",
    }
)
for variable in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "POWERTOOLS_TRACE_DISABLED"):
    os.environ.pop(variable, None)
