"""The RunPod API key from Secrets Manager, cached per Lambda instance and never logged."""

import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from runpod_callbacks.aws import failure_reason
from runpod_callbacks.errors import ApiKeyUnavailable

CACHE_SECONDS = 300
JSON_KEYS = ("api_key", "RUNPOD_API_KEY", "apiKey")
# What an HTTP header can carry: visible ASCII, no spaces. RunPod keys are letters, digits, _ and -.
HEADER_SAFE = re.compile(r"[\x21-\x7e]+")

KeySource = Callable[[bool], str]
"""The key; called with True after RunPod refused it, to read the secret again (rotation)."""


class ApiKeyCache:
    def __init__(self, secretsmanager: Any) -> None:
        self._secretsmanager = secretsmanager
        self._cached: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()  # the watchdog's workers share one cache

    def source(self, secret_arn: str) -> KeySource:
        return lambda renew: self.get(secret_arn, renew=renew)

    def get(self, secret_arn: str, *, renew: bool = False) -> str:
        with self._lock:
            return self._get(secret_arn, renew=renew)

    def _get(self, secret_arn: str, *, renew: bool) -> str:
        cached = self._cached.get(secret_arn)
        if cached and not renew and time.monotonic() - cached[1] < CACHE_SECONDS:
            return cached[0]
        try:
            answer = self._secretsmanager.get_secret_value(SecretId=secret_arn)
        except (ClientError, BotoCoreError) as error:
            reason = failure_reason(error)
            raise ApiKeyUnavailable(f"RunPod API key unavailable: {reason}") from error
        if "SecretString" not in answer:
            raise ApiKeyUnavailable("RunPod API key secret is binary; store the key as text")
        api_key = parse_api_key(answer["SecretString"])
        self._cached[secret_arn] = (api_key, time.monotonic())
        return api_key


def parse_api_key(secret: str) -> str:
    """The secret is the key itself, or JSON holding it under one of JSON_KEYS (or alone).

    Surrounding whitespace is dropped; a key an HTTP header cannot carry is refused here, by a
    message that does not repeat it (http.client would put it in its ValueError).
    """
    text = secret.strip()
    if text.startswith("{"):
        text = _from_json(text)
    if not text:
        raise ApiKeyUnavailable("RunPod API key secret is empty")
    if not HEADER_SAFE.fullmatch(text):
        raise ApiKeyUnavailable("RunPod API key holds characters an HTTP header cannot carry")
    return text


def _from_json(text: str) -> str:
    try:
        document = json.loads(text)
    except ValueError:
        raise ApiKeyUnavailable("RunPod API key secret starts with { but is not JSON") from None
    if not isinstance(document, dict):
        raise ApiKeyUnavailable("RunPod API key secret is JSON but not an object")
    for name in JSON_KEYS:
        value = document.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    texts = [value.strip() for value in document.values() if isinstance(value, str)]
    keys = [text for text in texts if text]
    if len(keys) == 1:
        return keys[0]
    raise ApiKeyUnavailable(f"RunPod API key secret is JSON without any of {', '.join(JSON_KEYS)}")
