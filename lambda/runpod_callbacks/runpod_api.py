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
import os
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any, NamedTuple

from runpod_callbacks.api_key import KeySource
from runpod_callbacks.errors import (
    AnswerTooLarge,
    ApiKeyUnavailable,
    RunPodMayHaveAccepted,
    RunPodRefused,
    RunPodUnavailable,
    SubmitFailed,
    SubmitRejected,
    SubmitThrottled,
)
from runpod_callbacks.job_logs import scrub

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
    sent: bool
    """The request left on a connection: RunPod may have acted on it, its answer lost."""


# What RunPod answers before it acts on a request: sent again, it cannot be done twice.
NOT_ACTED_ON = frozenset({429, 503})


# The watchdog and the canceller try each call once and give up soon: a record RunPod does not
# answer for waits for the next run (or event retry).
BACKGROUND_TIMEOUT_S = 5


def base_url() -> str:
    return os.environ.get("RUNPOD_API_BASE_URL") or DEFAULT_BASE_URL


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
        self._renewal = threading.Lock()
        self._renewed = False

    @classmethod
    def background(cls, api_key: KeySource) -> "RunPodApi":
        """For the watchdog and the canceller: one try per call, soon given up."""
        return cls(base_url(), api_key, attempts=1, timeout_s=BACKGROUND_TIMEOUT_S)

    def run(self, endpoint_id: str, job: dict[str, Any]) -> str:
        """Submit the job; returns RunPod's job id.

        RunPod has no idempotency key: a /run is sent again only when RunPod surely did not act
        on it (no connection, or 503), else RunPodMayHaveAccepted. A 429 is raised at once as
        SubmitThrottled (after waiting out a Retry-After of at most a second), for the state
        machine to retry with backoff. Raises SubmitRejected for other 4xx.
        """
        path = f"{_segment(endpoint_id)}/run"
        try:
            answer = self.exchange("POST", path, job, rate_limited=True, once=True)
            wait_s = answer.retry_after_s
            short = wait_s is not None and wait_s <= RETRY_AFTER_WAIT_MAX_S
            if answer.status == 429 and short and self._slept(wait_s or 0):
                answer = self.exchange("POST", path, job, rate_limited=True, once=True)
        except (RunPodUnavailable, ApiKeyUnavailable) as unavailable:
            raise SubmitFailed(str(unavailable)) from None
        except AnswerTooLarge as too_large:
            raise RunPodMayHaveAccepted(str(too_large)) from None
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
        once: bool = False,
    ) -> Answer:
        """One request, tried while RunPod is unavailable; the first definite answer. A 401 or
        403 reads the key from the secret again, once for this client's life, and asks again
        with it when it changed (a rotation). ``rate_limited``: a 429 is an answer too, not
        tried again. ``once``: never sent again once RunPod may have acted on it (raises
        RunPodMayHaveAccepted)."""

        def tried(key: str) -> Answer:
            return self._tried(
                method, path, payload, key, max_bytes, rate_limited=rate_limited, once=once
            )

        api_key = self._api_key(False)
        answer = tried(api_key)
        if answer.status in KEY_REFUSED:
            current = self._renewed_key(api_key)
            if current != api_key:
                answer = tried(current)
        return answer

    def _renewed_key(self, refused_key: str) -> str:
        """The key to ask again with: read again from the secret by the first thread whose key
        RunPod refused; the others take what it read."""
        with self._renewal:
            current = self._api_key(False)
            if current == refused_key and not self._renewed:
                self._renewed = True
                current = self._api_key(True)
        return current

    def _tried(
        self,
        method: str,
        path: str,
        payload: Any,
        api_key: str,
        max_bytes: int,
        *,
        rate_limited: bool,
        once: bool,
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
                failure, acted_on = answer.reason, answer.sent
            elif answer.status < 500 and (answer.status != 429 or rate_limited):
                return answer
            else:
                failure = f"RunPod answered {answer.status}: {self._message(answer.body)}"
                acted_on = answer.status not in NOT_ACTED_ON
            if once and acted_on:
                raise RunPodMayHaveAccepted(failure)
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
        deadline = time.monotonic() + self._timeout_s
        for _ in range(2):
            connection, reused = self._connection(fresh=fresh)
            try:
                if connection.sock is None:
                    connection.connect()
            except Exception as error:  # the request never left
                self._drop(connection)
                return NoAnswer(_unreachable(error), sent=False)
            try:
                connection.request(method, f"{self._base_path}/{path}", body=body, headers=headers)
                response = connection.getresponse()
                content = _read(response, max_bytes, connection, deadline)
                if fresh or response.will_close or not response.isclosed():
                    self._drop(connection)
                return Answer(response.status, content, _retry_after_s(response))
            except AnswerTooLarge:
                self._drop(connection)
                raise
            except Exception as error:
                self._drop(connection)
                if not (reused and isinstance(error, _STALE_CONNECTION)):
                    return NoAnswer(_unreachable(error), sent=True)
                # RunPod closed the kept connection while it was idle: ask on a new one.
        return NoAnswer("RunPod closed two connections in a row", sent=True)

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
            raise RunPodMayHaveAccepted(f"RunPod answered without a job id: {self._message(body)}")
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
        for key in tuple(self._known_keys):  # another thread may add a rotated key meanwhile
            text = text.replace(key, "[API key]")
        return scrub(text)[:MAX_MESSAGE_CHARACTERS]


_TLS = ssl.create_default_context()
# What a kept connection that RunPod closed while it was idle raises before any answer.
_STALE_CONNECTION = (
    http.client.RemoteDisconnected,
    ConnectionResetError,
    BrokenPipeError,
    ssl.SSLEOFError,
)
READ_CHUNK_BYTES = 64 * 1024


def _unreachable(error: Exception) -> str:
    # By type only: a ValueError here can hold the Authorization header's value.
    return f"RunPod unreachable: {type(error).__name__}"


def _fresh_connection_for(method: str, path: str) -> bool:
    """A /run goes on a connection of its own: were a kept one found closed by RunPod after the
    request left, the job might have started, and a retry would start another."""
    return method == "POST" and path.endswith("/run")


def _read(
    response: http.client.HTTPResponse,
    max_bytes: int,
    connection: http.client.HTTPConnection,
    deadline: float,
) -> bytes:
    """The body, up to ``max_bytes``, by the attempt's deadline: a socket's timeout bounds each
    read, not a body trickling in."""
    length = response.getheader("Content-Length")
    if length is not None and length.isdigit() and int(length) > max_bytes:
        raise AnswerTooLarge(f"RunPod's answer is {length} bytes; at most {max_bytes} are read")
    chunks: list[bytes] = []
    received = 0
    while received <= max_bytes:
        left_s = deadline - time.monotonic()
        if left_s <= 0:
            raise TimeoutError("RunPod's answer did not come within the attempt's timeout")
        if connection.sock is not None:
            connection.sock.settimeout(left_s)
        chunk = response.read(min(READ_CHUNK_BYTES, max_bytes + 1 - received))
        if not chunk:
            break
        chunks.append(chunk)
        received += len(chunk)
    if received > max_bytes:
        raise AnswerTooLarge(f"RunPod's answer is over {max_bytes} bytes")
    if response.length:  # the connection closed before the Content-Length promised came
        raise http.client.IncompleteRead(b"".join(chunks), response.length)
    return b"".join(chunks)


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
