"""The RunPod API key from Secrets Manager, cached per Lambda instance and never logged."""

import json
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from runpod_callbacks.aws import aws_error_code
from runpod_callbacks.errors import SubmitFailed

CACHE_SECONDS = 300
JSON_KEYS = ("api_key", "RUNPOD_API_KEY", "apiKey")


class ApiKeyCache:
    def __init__(self, secretsmanager: Any) -> None:
        self._secretsmanager = secretsmanager
        self._cached: dict[str, tuple[str, float]] = {}

    def get(self, secret_arn: str) -> str:
        cached = self._cached.get(secret_arn)
        if cached and time.monotonic() - cached[1] < CACHE_SECONDS:
            return cached[0]
        try:
            secret = self._secretsmanager.get_secret_value(SecretId=secret_arn)["SecretString"]
        except ClientError as error:
            raise SubmitFailed(f"RunPod API key unavailable: {aws_error_code(error)}") from error
        except BotoCoreError as error:
            raise SubmitFailed(f"RunPod API key unavailable: {type(error).__name__}") from error
        api_key = _api_key(secret)
        self._cached[secret_arn] = (api_key, time.monotonic())
        return api_key


def _api_key(secret: str) -> str:
    """The secret is the key itself, or JSON holding it under one of JSON_KEYS (or alone)."""
    text = secret.strip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError as error:
            raise SubmitFailed("RunPod API key secret starts with { but is not JSON") from error
        strings = [value for value in document.values() if isinstance(value, str) and value]
        for name in JSON_KEYS:
            if isinstance(document.get(name), str) and document[name]:
                return str(document[name])
        if len(strings) == 1:
            return strings[0]
        raise SubmitFailed(f"RunPod API key secret is JSON without any of {', '.join(JSON_KEYS)}")
    if not text:
        raise SubmitFailed("RunPod API key secret is empty")
    return text
