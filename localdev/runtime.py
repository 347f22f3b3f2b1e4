"""Load the real handler against a given AWS (moto or a real account), as Lambda would."""

import importlib
import os
import sys
from pathlib import Path
from types import ModuleType

LAMBDA_SOURCE = Path(__file__).resolve().parent.parent / "lambda"


def load_handler(table_name: str, endpoint_url: str | None) -> ModuleType:
    """Import lambda/handler.py with the function's environment; endpoint None means real AWS."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "runpod-webhook")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "RunPodWebhookLocal")
    os.environ["CALLBACK_TABLE_NAME"] = table_name
    if endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = endpoint_url
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    if str(LAMBDA_SOURCE) not in sys.path:
        sys.path.insert(0, str(LAMBDA_SOURCE))
    return importlib.import_module("handler")
