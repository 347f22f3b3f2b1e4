"""RunPod's serverless API: submit a job (POST /<endpoint_id>/run), ask for a job's status
(GET /<endpoint_id>/status/<job_id>), cancel it (POST /<endpoint_id>/cancel/<job_id>).

Every way the HTTP exchange can fail becomes a typed error, and no message, log line or chained
exception carries the API key (http.client puts a malformed header's value in its ValueError).
"""

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from runpod_callbacks.api_key import ApiKeyUnavailable, KeySource
from runpod_callbacks.errors import SubmitFailed, SubmitRejected
from runpod_callbacks.job_status import redact

DEFAULT_BASE_URL = "https://api.runpod.ai/v2"
TIMEOUT_S = 10
ATTEMPTS = 3
BACKOFF_S = (0.5, 1.0)
MAX_MESSAGE_CHARACTERS = 1000
KEY_REFUSED = frozenset({401, 403})


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


class RunPodUnavailable(Exception):
    """No definite answer after the retries: network failures, 429 or 5xx."""


class RunPodRefused(Exception):
    """A definite answer other than the one asked for (a 4xx but 404 and 429)."""


class RunPodApi:
    def __init__(
        self,
        base_url: str,
        api_key: KeySource,
        *,
        attempts: int = ATTEMPTS,
        timeout_s: float = TIMEOUT_S,
        backoff_s: tuple[float, ...] = BACKOFF_S,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._attempts = attempts
        self._timeout_s = timeout_s
        self._backoff_s = backoff_s
        self._secrets: dict[str, str] = {}
        """Texts RunPod's messages must not carry into ours, and what stands for each."""

    def run(self, endpoint_id: str, job: dict[str, Any]) -> str:
        """Submit the job; returns RunPod's job id.

        Retries 5xx, 429 and network failures (a retry after a lost answer can start a second
        job: RunPod has no idempotency key). Raises SubmitRejected for other 4xx.
        """
        webhook = str(job.get("webhook", ""))
        callback_token = webhook.rsplit("/", 1)[-1]
        if callback_token:  # RunPod may quote the webhook URL, the callback's bearer secret
            self._secrets[callback_token] = redact(callback_token)
        try:
            answer = self.exchange("POST", f"{endpoint_id}/run", job)
        except (RunPodUnavailable, ApiKeyUnavailable) as unavailable:
            raise SubmitFailed(str(unavailable)) from None
        if not 200 <= answer.status < 300:
            raise SubmitRejected(f"RunPod answered {answer.status}: {self._message(answer.body)}")
        return self._job_id(answer.body)

    def status(self, endpoint_id: str, job_id: str) -> str | None:
        """The job-status object's JSON text; None when RunPod does not know the job (404).

        A 404 counts only if the endpoint itself answers (its /health): a wrong base URL or
        endpoint id must not pass for jobs RunPod lost.
        """
        answer = self.exchange("GET", _path(endpoint_id, "status", job_id), None)
        if answer.status == 404:
            health = self.exchange("GET", f"{_segment(endpoint_id)}/health", None)
            self._definite(health)
            return None
        return self._definite(answer).body.decode("utf-8", errors="replace")

    def cancel(self, endpoint_id: str, job_id: str) -> None:
        self._definite(self.exchange("POST", _path(endpoint_id, "cancel", job_id), None))

    def _definite(self, answer: Answer) -> Answer:
        if not 200 <= answer.status < 300:
            raise RunPodRefused(f"RunPod answered {answer.status}: {self._message(answer.body)}")
        return answer

    def exchange(self, method: str, path: str, payload: dict[str, Any] | None) -> Answer:
        """One request, retried while RunPod is unavailable; the final definite answer.

        A 401 or 403 reads the key from the secret again and, when it changed (rotation), tries
        once more with the new key before answering.
        """
        api_key = self._api_key(False)
        failure = "no attempt made"
        for attempt in range(self._attempts):
            if attempt:
                time.sleep(self._backoff_s[min(attempt, len(self._backoff_s)) - 1])
            answer = self._try(method, path, payload, api_key)
            if isinstance(answer, str):
                failure = answer
                continue
            if answer.status in KEY_REFUSED:
                renewed = self._api_key(True)
                if renewed == api_key:
                    return answer
                api_key = renewed
                answer = self._try(method, path, payload, api_key)
                if isinstance(answer, str):
                    failure = answer
                    continue
            if answer.status != 429 and answer.status < 500:
                return answer
            failure = f"RunPod answered {answer.status}: {self._message(answer.body)}"
        raise RunPodUnavailable(f"{failure} (after {self._attempts} attempts)")

    def _try(self, method: str, path: str, payload: Any, api_key: str) -> Answer | str:
        """RunPod's answer, whatever its status, or why there was none."""
        self._secrets[api_key] = "[API key]"
        request = urllib.request.Request(  # noqa: S310 - https base URL from the module's config
            f"{self._base_url}/{path}",
            data=None if payload is None else json.dumps(payload).encode(),
            headers={
                "Authorization": f"Bearer {api_key}",
                "Content-Type": "application/json",
                "User-Agent": "terraform-aws-runpod-webhook",
            },
            method=method,
        )
        try:
            with _NO_REDIRECTS.open(request, timeout=self._timeout_s) as response:
                return Answer(int(response.status), response.read())
        except urllib.error.HTTPError as error:
            try:
                return Answer(error.code, error.read())
            except Exception as unreadable:
                return f"RunPod answered {error.code}, then {type(unreadable).__name__}"
        except Exception as failure:
            # By type only: a ValueError here can hold the Authorization header's value.
            reason = getattr(failure, "reason", None)
            detail = f" ({type(reason).__name__})" if isinstance(reason, BaseException) else ""
            return f"RunPod unreachable: {type(failure).__name__}{detail}"

    def _job_id(self, body: bytes) -> str:
        try:
            job_id = json.loads(body).get("id")
        except (ValueError, AttributeError):
            job_id = None
        if not isinstance(job_id, str) or not job_id:
            raise SubmitFailed(f"RunPod answered without a job id: {self._message(body)}")
        return job_id

    def _message(self, body: bytes) -> str:
        """RunPod's error message from a body, short, and never holding the key."""
        text = body.decode("utf-8", errors="replace")
        try:
            document = json.loads(text)
        except ValueError:
            document = None
        if isinstance(document, dict):
            text = next(
                (str(document[key]) for key in ("error", "message", "detail") if document.get(key)),
                text,
            )
        for secret, stand_in in self._secrets.items():
            text = text.replace(secret, stand_in)
        return text[:MAX_MESSAGE_CHARACTERS]


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """urllib would follow a redirect with the Authorization header, to any host: never."""

    def redirect_request(self, *_: Any, **__: Any) -> None:
        return None  # urllib then raises the 30x as an HTTPError: a definite, refused answer


_NO_REDIRECTS = urllib.request.build_opener(_RefuseRedirects)


def _path(endpoint_id: str, action: str, job_id: str) -> str:
    """Ids from the record go into the URL as one segment each, whatever they contain."""
    return "/".join(_segment(part) for part in (endpoint_id, action, job_id))


def _segment(text: str) -> str:
    return urllib.parse.quote(text, safe="")
