"""Load the real Lambda entry modules against a given AWS (moto or a real account)."""

import importlib
import os
import sys
from pathlib import Path
from types import ModuleType

LAMBDA_SOURCE = Path(__file__).resolve().parent.parent / "lambda"
# What the module sets on each function: its loggers (child loggers too) log under this name.
SERVICE_NAMES = {
    "webhook": "runpod-webhook",
    "submit": "runpod-submit",
    "watchdog": "runpod-watchdog",
    "canceller": "runpod-canceller",
}


def load_function(module: str, endpoint_url: str | None, **settings: str) -> ModuleType:
    """Import lambda/<module>.py with the function's environment; endpoint None means real AWS."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "RunPodWebhookLocal")
    os.environ["POWERTOOLS_SERVICE_NAME"] = SERVICE_NAMES[module]
    os.environ.update(settings)
    if endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = endpoint_url
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    if str(LAMBDA_SOURCE) not in sys.path:
        sys.path.insert(0, str(LAMBDA_SOURCE))
    return importlib.import_module(module)
