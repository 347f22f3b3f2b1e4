"""RunPod's serverless API: submit a job to an endpoint (POST /<endpoint_id>/run)."""

import json
import time
import urllib.error
import urllib.request
from typing import Any

from runpod_callbacks.errors import SubmitFailed, SubmitRejected

DEFAULT_BASE_URL = "https://api.runpod.ai/v2"
TIMEOUT_S = 10
ATTEMPTS = 3
BACKOFF_S = (0.5, 1.0)
MAX_MESSAGE_CHARACTERS = 1000


class RunPodApi:
    def __init__(self, base_url: str, api_key: str, *, backoff_s: tuple[float, ...] = BACKOFF_S):
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._backoff_s = backoff_s

    def run(self, endpoint_id: str, job: dict[str, Any]) -> str:
        """Submit the job; returns RunPod's job id.

        Retries 5xx, 429 and network failures (a retry after a lost answer can start a second
        job: RunPod has no idempotency key). Raises SubmitRejected for other 4xx.
        """
        request = urllib.request.Request(  # noqa: S310 - https base URL from the module's config
            f"{self._base_url}/{endpoint_id}/run",
            data=json.dumps(job).encode(),
            headers={
                "Authorization": f"Bearer {self._api_key}",
                "Content-Type": "application/json",
                "User-Agent": "terraform-aws-runpod-webhook",
            },
            method="POST",
        )
        failure = "no attempt made"
        for attempt in range(ATTEMPTS):
            if attempt:
                time.sleep(self._backoff_s[min(attempt, len(self._backoff_s)) - 1])
            try:
                with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:  # noqa: S310
                    return _job_id(response.read())
            except urllib.error.HTTPError as error:
                message = _message(error.read())
                if error.code < 500 and error.code != 429:
                    raise SubmitRejected(f"RunPod answered {error.code}: {message}") from error
                failure = f"RunPod answered {error.code}: {message}"
            except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
                failure = f"RunPod unreachable: {getattr(error, 'reason', error)}"
        raise SubmitFailed(f"{failure} (after {ATTEMPTS} attempts)")


def _job_id(body: bytes) -> str:
    try:
        job_id = json.loads(body).get("id")
    except (ValueError, AttributeError):
        job_id = None
    if not isinstance(job_id, str) or not job_id:
        raise SubmitFailed(f"RunPod answered without a job id: {_message(body)}")
    return job_id


def _message(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace")
    try:
        document = json.loads(text)
    except ValueError:
        return text[:MAX_MESSAGE_CHARACTERS]
    if isinstance(document, dict):
        for key in ("error", "message", "detail"):
            if document.get(key):
                return str(document[key])[:MAX_MESSAGE_CHARACTERS]
    return text[:MAX_MESSAGE_CHARACTERS]
