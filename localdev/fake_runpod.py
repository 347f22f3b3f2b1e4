"""A fake RunPod on loopback: accepts /v2/<endpoint>/run, then calls the job's webhook like RunPod.

RunPod POSTs the job-status object to the webhook when the job ends and retries a non-200 answer
(3 attempts, 10 s apart). Tests shorten the wait; the demo keeps it short too.
"""

import json
import threading
import time
import urllib.error
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from localdev.loopback import post_json, serve_in_thread

WEBHOOK_ATTEMPTS = 3


@dataclass
class RunRequest:
    endpoint_id: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class WebhookCall:
    """RunPod calling one job's webhook: the body it POSTs and each attempt's HTTP status."""

    url: str
    body: dict[str, Any]
    statuses: list[int] = field(default_factory=list)


def finish_job(job_id: str, job_input: dict[str, Any]) -> dict[str, Any]:
    """RunPod's job-status object: FAILED when the input asks for it, else COMPLETED."""
    if "fail_with" in job_input:
        return {
            "id": job_id,
            "status": "FAILED",
            "error": str(job_input["fail_with"]),
            "delayTime": 412,
            "executionTime": 1093,
        }
    return {
        "id": job_id,
        "status": "COMPLETED",
        "output": {"processed": job_input},
        "delayTime": 412,
        "executionTime": 20417,
    }


class FakeRunPod:
    def __init__(
        self,
        *,
        retry_interval_s: float = 0.2,
        job_delay_s: float = 0.1,
        on_run: Callable[[RunRequest], None] | None = None,
    ) -> None:
        self.runs: list[RunRequest] = []
        self.webhook_calls: list[WebhookCall] = []
        self.answers: list[tuple[int, dict[str, Any]] | bytes] = []
        """Answers to give /run before accepting jobs again: (503, {...}) or raw HTTP bytes."""
        self.api_keys: set[str] | None = None
        """The keys RunPod accepts (401 for others); None accepts any."""
        self._retry_interval_s = retry_interval_s
        self._job_delay_s = job_delay_s
        self._on_run = on_run
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def answer_run(
        self, endpoint_id: str, headers: dict[str, str], body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]] | bytes:
        request = RunRequest(endpoint_id, headers, body)
        with self._lock:
            self.runs.append(request)
            if self.answers:
                return self.answers.pop(0)
        key = headers.get("Authorization", "").removeprefix("Bearer ")
        if self.api_keys is not None and key not in self.api_keys:
            return 401, {"error": "invalid API key"}
        if self._on_run:
            self._on_run(request)
        job_id = f"job-{uuid.uuid4().hex[:12]}"
        webhook = body.get("webhook")
        if isinstance(webhook, str):
            call = WebhookCall(webhook, finish_job(job_id, body.get("input") or {}))
            thread = threading.Thread(target=self._call_webhook, args=(call,), daemon=True)
            self._threads.append(thread)
            thread.start()
        return 200, {"id": job_id, "status": "IN_QUEUE"}

    def wait_for_webhooks(self, timeout_s: float = 30) -> list[WebhookCall]:
        deadline = time.monotonic() + timeout_s
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))
        return self.webhook_calls

    def _call_webhook(self, call: WebhookCall) -> None:
        time.sleep(self._job_delay_s)
        with self._lock:
            self.webhook_calls.append(call)
        for attempt in range(WEBHOOK_ATTEMPTS):
            if attempt:
                time.sleep(self._retry_interval_s)
            status = _post(call.url, call.body)
            call.statuses.append(status)
            if status == 200:
                return


def _post(url: str, body: dict[str, Any]) -> int:
    """The webhook's HTTP status, or 0 when nothing answered (RunPod retries both)."""
    try:
        return post_json(url, json.dumps(body))[0]
    except (urllib.error.URLError, TimeoutError, ConnectionError):
        return 0


def _request_handler(runpod: FakeRunPod) -> type[BaseHTTPRequestHandler]:
    class FakeRunPodEndpoints(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            parts = self.path.strip("/").split("/")
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                body = None
            if len(parts) != 3 or parts[0] != "v2" or parts[2] != "run":
                status, answer = 404, {"error": "not found"}
            elif not isinstance(body, dict):
                status, answer = 400, {"error": "body must be a JSON object"}
            elif not self.headers.get("Authorization", "").startswith("Bearer "):
                status, answer = 401, {"error": "missing API key"}
            else:
                answered = runpod.answer_run(parts[1], dict(self.headers.items()), body)
                if isinstance(answered, bytes):  # a broken answer, as a faulty network gives
                    self.wfile.write(answered)
                    self.close_connection = True
                    return
                status, answer = answered
            payload = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    return FakeRunPodEndpoints


@contextmanager
def serve_fake_runpod(runpod: FakeRunPod) -> Iterator[str]:
    """Serve on 127.0.0.1 at a free port; yields the API base URL (…/v2)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _request_handler(runpod))
    with serve_in_thread(server, "fake-runpod") as base_url:
        try:
            yield f"{base_url}/v2"
        finally:
            runpod.wait_for_webhooks(timeout_s=5)
