"""RunPod's serverless API: submit a job (POST /<endpoint_id>/run), ask for a job's status
(GET /<endpoint_id>/status/<job_id>), cancel it (POST /<endpoint_id>/cancel/<job_id>).

Every way the HTTP exchange can fail becomes a typed error. No message, log line or chained
exception carries the API key (http.client puts a malformed header's value in its ValueError),
and every text of RunPod's is scrubbed of webhook URLs (RunPod echoes a job's ``webhook``, whose
last segment is the callback token). Connections are kept open and reused per thread, except
for /run (see _fresh_connection_for); an answer is read only up to a bound.
"""

import http.client
import json
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any, NamedTuple

from runpod_callbacks.api_key import ApiKeyUnavailable, KeySource
from runpod_callbacks.errors import SubmitFailed, SubmitRejected, SubmitThrottled
from runpod_callbacks.redaction import scrub

DEFAULT_BASE_URL = "https://api.runpod.ai/v2"
TIMEOUT_S = 10
ATTEMPTS = 3
BACKOFF_S = (0.5, 1.0)
MAX_MESSAGE_CHARACTERS = 1000
KEY_REFUSED = frozenset({401, 403})
# A Retry-After this short is waited out once; a longer one is the state machine's to wait.
RETRY_AFTER_WAIT_MAX_S = 1.0
MAX_ANSWER_BYTES = 64 * 1024
"""What a /run or /cancel answer may take: a job id, a status."""
MAX_STATUS_BYTES = 32 * 1024 * 1024
"""What a /status answer may take (RunPod's own request limits are 10 to 20 MB)."""

TimeLeft = Callable[[], float]
"""Seconds the caller can still give RunPod."""


class Answer(NamedTuple):
    status: int
    body: bytes
    retry_after_s: float | None = None


class NoAnswer(NamedTuple):
    reason: str


class RunPodUnavailable(Exception):
    """No definite answer after the retries: network failures, 429 or 5xx."""


class RunPodRefused(Exception):
    """A definite answer other than the one asked for (a 4xx but 404 and 429)."""


class AnswerTooLarge(Exception):
    """RunPod's answer is longer than this client reads."""


class RunPodApi:
    def __init__(
        self,
        base_url: str,
        api_key: KeySource,
        *,
        attempts: int = ATTEMPTS,
        timeout_s: float = TIMEOUT_S,
        backoff_s: tuple[float, ...] = BACKOFF_S,
        time_left_s: TimeLeft | None = None,
    ) -> None:
        parsed = urllib.parse.urlsplit(base_url.rstrip("/"))
        self._scheme = parsed.scheme
        self._host = parsed.netloc
        self._base_path = parsed.path
        self._api_key = api_key
        self._attempts = attempts
        self._timeout_s = timeout_s
        self._backoff_s = backoff_s
        self._time_left_s = time_left_s or (lambda: float("inf"))
        self._connections = threading.local()
        self._known_keys: set[str] = set()

    def run(self, endpoint_id: str, job: dict[str, Any]) -> str:
        """Submit the job; returns RunPod's job id.

        Retries 5xx and network failures (a retry after a lost answer can start a second job:
        RunPod has no idempotency key). A 429 is raised at once as SubmitThrottled (after
        waiting out a Retry-After of at most a second), for the state machine to retry with
        backoff. Raises SubmitRejected for other 4xx.
        """
        path = f"{_segment(endpoint_id)}/run"
        try:
            answer = self.exchange("POST", path, job, rate_limited=True)
            wait_s = answer.retry_after_s
            short = wait_s is not None and wait_s <= RETRY_AFTER_WAIT_MAX_S
            if answer.status == 429 and short and self._slept(wait_s or 0):
                answer = self.exchange("POST", path, job, rate_limited=True)
        except (RunPodUnavailable, ApiKeyUnavailable, AnswerTooLarge) as unavailable:
            raise SubmitFailed(str(unavailable)) from None
        if answer.status == 429:
            wait = answer.retry_after_s
            after = "" if wait is None else f"; retry after {wait:g} s"
            raise SubmitThrottled(f"RunPod answered 429: {self._message(answer.body)}{after}")
        if not 200 <= answer.status < 300:
            raise SubmitRejected(f"RunPod answered {answer.status}: {self._message(answer.body)}")
        return self._job_id(answer.body)

    def status(
        self, endpoint_id: str, job_id: str, *, max_bytes: int = MAX_STATUS_BYTES
    ) -> bytes | None:
        """The job-status object as RunPod wrote it; None when RunPod does not know the job (404).

        A 404 counts only if the endpoint itself answers (its /health): a wrong base URL or
        endpoint id must not pass for jobs RunPod lost. Raises AnswerTooLarge past ``max_bytes``.
        """
        answer = self.exchange(
            "GET", _path(endpoint_id, "status", job_id), None, max_bytes=max_bytes
        )
        if answer.status == 404:
            health = self.exchange("GET", f"{_segment(endpoint_id)}/health", None)
            self._definite(health)
            return None
        return self._definite(answer).body

    def cancel(self, endpoint_id: str, job_id: str) -> None:
        self._definite(self.exchange("POST", _path(endpoint_id, "cancel", job_id), None))

    def exchange(
        self,
        method: str,
        path: str,
        payload: dict[str, Any] | None,
        *,
        max_bytes: int = MAX_ANSWER_BYTES,
        rate_limited: bool = False,
    ) -> Answer:
        """One request, tried while RunPod is unavailable; the first definite answer. A 401 or
        403 reads the key from the secret again and, when it changed (a rotation), asks again
        with the new key. ``rate_limited``: a 429 is an answer too, not tried again."""
        api_key = self._api_key(False)
        answer = self._tried(method, path, payload, api_key, max_bytes, rate_limited=rate_limited)
        if answer.status in KEY_REFUSED:
            renewed = self._api_key(True)
            if renewed != api_key:
                answer = self._tried(
                    method, path, payload, renewed, max_bytes, rate_limited=rate_limited
                )
        return answer

    def _tried(
        self,
        method: str,
        path: str,
        payload: Any,
        api_key: str,
        max_bytes: int,
        *,
        rate_limited: bool,
    ) -> Answer:
        """Up to ``attempts`` tries, backing off, while the time left fits one more; raises
        RunPodUnavailable when none got a definite answer (network, 5xx, 429)."""
        failure = "no attempt made"
        for attempt in range(self._attempts):
            backoff_s = self._backoff_s[min(attempt, len(self._backoff_s)) - 1]
            if attempt and not self._slept(backoff_s):
                break
            if self._time_left_s() < self._timeout_s:
                failure = "out of time for another attempt"
                break
            answer = self._try(method, path, payload, api_key, max_bytes)
            if isinstance(answer, NoAnswer):
                failure = answer.reason
            elif answer.status < 500 and (answer.status != 429 or rate_limited):
                return answer
            else:
                failure = f"RunPod answered {answer.status}: {self._message(answer.body)}"
        raise RunPodUnavailable(f"{failure} (after {self._attempts} attempts at most)")

    def _slept(self, seconds: float) -> bool:
        """Sleep, if the time left allows it and one more attempt after it."""
        if self._time_left_s() < seconds + self._timeout_s:
            return False
        time.sleep(seconds)
        return True

    def _try(
        self, method: str, path: str, payload: Any, api_key: str, max_bytes: int
    ) -> Answer | NoAnswer:
        """RunPod's answer, whatever its status, or why there was none."""
        self._known_keys.add(api_key)
        body = None if payload is None else json.dumps(payload).encode()
        headers = {
            "Authorization": f"Bearer {api_key}",
            "Content-Type": "application/json",
            "User-Agent": "terraform-aws-runpod-webhook",
        }
        fresh = _fresh_connection_for(method, path)
        failure: Exception | None = None
        for _ in range(2):
            connection, reused = self._connection(fresh=fresh)
            try:
                connection.request(method, f"{self._base_path}/{path}", body=body, headers=headers)
                response = connection.getresponse()
                content = _read(response, max_bytes)
                if fresh or response.will_close or not response.isclosed():
                    self._drop(connection)
                return Answer(response.status, content, _retry_after_s(response))
            except AnswerTooLarge:
                self._drop(connection)
                raise
            except Exception as error:
                self._drop(connection)
                failure = error
                if not (reused and isinstance(error, _STALE_CONNECTION)):
                    break  # else RunPod closed the kept connection while idle: a new one
        # By type only: a ValueError here can hold the Authorization header's value.
        return NoAnswer(f"RunPod unreachable: {type(failure).__name__}")

    def _connection(self, *, fresh: bool) -> tuple[http.client.HTTPConnection, bool]:
        """A connection, and whether it served an earlier request (then RunPod may have closed
        it since)."""
        if not fresh:
            kept: http.client.HTTPConnection | None = getattr(self._connections, "kept", None)
            if kept is not None:
                return kept, True
        if self._scheme == "https":
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                self._host, timeout=self._timeout_s, context=_TLS
            )
        else:
            connection = http.client.HTTPConnection(self._host, timeout=self._timeout_s)
        if not fresh:
            self._connections.kept = connection
        return connection, False

    def _drop(self, connection: http.client.HTTPConnection) -> None:
        connection.close()
        if getattr(self._connections, "kept", None) is connection:
            self._connections.kept = None

    def _definite(self, answer: Answer) -> Answer:
        if not 200 <= answer.status < 300:
            raise RunPodRefused(f"RunPod answered {answer.status}: {self._message(answer.body)}")
        return answer

    def _job_id(self, body: bytes) -> str:
        try:
            job_id = json.loads(body).get("id")
        except (ValueError, AttributeError):
            job_id = None
        if not isinstance(job_id, str) or not job_id:
            raise SubmitFailed(f"RunPod answered without a job id: {self._message(body)}")
        return job_id

    def _message(self, body: bytes) -> str:
        """RunPod's error message from a body: short, no key, no webhook URL's token."""
        text = body[:MAX_ANSWER_BYTES].decode("utf-8", errors="replace")
        try:
            document = json.loads(text)
        except ValueError:
            document = None
        if isinstance(document, dict):
            text = next(
                (str(document[key]) for key in ("error", "message", "detail") if document.get(key)),
                text,
            )
        for key in self._known_keys:
            text = text.replace(key, "[API key]")
        return scrub(text)[:MAX_MESSAGE_CHARACTERS]


_TLS = ssl.create_default_context()
# What a kept connection that RunPod closed while it was idle raises before any answer.
_STALE_CONNECTION = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


def _fresh_connection_for(method: str, path: str) -> bool:
    """A /run goes on a connection of its own: were a kept one found closed by RunPod after the
    request left, the job might have started, and a retry would start another."""
    return method == "POST" and path.endswith("/run")


def _read(response: http.client.HTTPResponse, max_bytes: int) -> bytes:
    length = response.getheader("Content-Length")
    if length is not None and length.isdigit() and int(length) > max_bytes:
        raise AnswerTooLarge(f"RunPod's answer is {length} bytes; at most {max_bytes} are read")
    content = response.read(max_bytes + 1)
    if len(content) > max_bytes:
        raise AnswerTooLarge(f"RunPod's answer is over {max_bytes} bytes")
    if response.length:  # the connection closed before the Content-Length promised came
        raise http.client.IncompleteRead(content, response.length)
    return content


def _retry_after_s(response: http.client.HTTPResponse) -> float | None:
    value = (response.getheader("Retry-After") or "").strip()
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 <= seconds < 86_400 else None


def _path(endpoint_id: str, action: str, job_id: str) -> str:
    """Ids from the record go into the URL as one segment each, whatever they contain."""
    return "/".join(_segment(part) for part in (endpoint_id, action, job_id))


def _segment(text: str) -> str:
    return urllib.parse.quote(text, safe="")
