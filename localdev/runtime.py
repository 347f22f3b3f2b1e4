"""Load the real Lambda entry modules against a given AWS (moto or a real account)."""

import importlib
import os
import sys
from pathlib import Path
from types import ModuleType

import boto3

LOCAL_REGION = "us-east-1"  # moto's, and the last resort when nothing names a region
LAMBDA_SOURCE = Path(__file__).resolve().parent.parent / "lambda"
# What the module sets on each function: its loggers (child loggers too) log under this name.
SERVICE_NAMES = {
    "webhook": "runpod-webhook",
    "submit": "runpod-submit",
    "watchdog": "runpod-watchdog",
    "canceller": "runpod-canceller",
}


def load_function(module: str, endpoint_url: str | None, **settings: str) -> ModuleType:
    """Import lambda/<module>.py with the function's environment; endpoint None means real AWS,
    in the region the environment or the profile names (see aws_region)."""
    if endpoint_url:  # the local AWS lives in one region, the one local_cli uses too
        os.environ["AWS_REGION"] = os.environ["AWS_DEFAULT_REGION"] = LOCAL_REGION
    else:
        os.environ["AWS_REGION"] = aws_region()
        os.environ.setdefault("AWS_DEFAULT_REGION", os.environ["AWS_REGION"])
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


def aws_region() -> str:
    """The region of real AWS: AWS_REGION, else what boto3 resolves (AWS_DEFAULT_REGION, the
    profile's region), else us-east-1. Set as AWS_REGION for the functions: Lambda always sets
    it, and lambda/ reads it rather than asking boto3."""
    return os.environ.get("AWS_REGION") or boto3.session.Session().region_name or LOCAL_REGION
