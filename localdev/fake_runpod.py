"""A fake RunPod on loopback: /v2/<endpoint>/run, /status/<job_id> and /cancel/<job_id>.

A job runs for a moment, then ends and RunPod POSTs its job-status object to the webhook,
retrying a non-200 answer (3 attempts, 10 s apart; tests and the demo shorten the wait). Knobs
make it misbehave as RunPod and networks do: webhooks that never arrive, jobs that run until
cancelled, results RunPod no longer knows, broken or refused answers.
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
Answer = tuple[int, dict[str, Any]] | bytes
"""An HTTP answer: (status, JSON body), or raw bytes as a broken server writes them."""


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


@dataclass
class FakeJob:
    job_id: str
    endpoint_id: str
    job_input: dict[str, Any]
    webhook: str | None
    status: str = "IN_QUEUE"
    result: dict[str, Any] | None = None
    """The job-status object once the job ended."""

    def status_object(self) -> dict[str, Any]:
        return self.result or {"id": self.job_id, "status": self.status}


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
        self.jobs: dict[str, FakeJob] = {}
        self.webhook_calls: list[WebhookCall] = []
        self.status_requests: list[str] = []
        self.cancel_requests: list[str] = []
        self.answers: list[Answer] = []
        """Answers to give /run before accepting jobs again: (503, {...}) or raw HTTP bytes."""
        self.answers_after_accepting: list[Answer] = []
        """Answers to give /run after accepting the job (it runs; RunPod's answer is lost)."""
        self.status_answers: list[Answer] = []
        """Answers to give /status before answering truly again, e.g. (429, {...})."""
        self.cancel_answers: list[Answer] = []
        """Answers to give /cancel before cancelling truly again."""
        self.api_keys: set[str] | None = None
        """The keys RunPod accepts (401 for others); None accepts any."""
        self.webhooks_lost = False
        """Every webhook call is lost on the way (no answer), as in an API Gateway outage."""
        self.webhook_lost: Callable[[FakeJob], bool] | None = None
        """Whether every call of this job's webhook is lost (e.g. one job in five)."""
        self.jobs_run_until_cancelled = False
        """New jobs never end by themselves (a long GPU job)."""
        self.unknown_endpoints: set[str] = set()
        """Endpoints RunPod answers 404 for, /health included (a wrong endpoint id)."""
        self._retry_interval_s = retry_interval_s
        self._job_delay_s = job_delay_s
        self._on_run = on_run
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def answer_run(self, endpoint_id: str, headers: dict[str, str], body: dict[str, Any]) -> Answer:
        request = RunRequest(endpoint_id, headers, body)
        with self._lock:
            self.runs.append(request)
            if self.answers:
                return self.answers.pop(0)
        if not self._accepts(headers):
            return 401, {"error": "invalid API key"}
        if self._on_run:
            self._on_run(request)
        webhook = body.get("webhook")
        job = FakeJob(
            f"job-{uuid.uuid4().hex[:12]}",
            endpoint_id,
            body.get("input") or {},
            webhook if isinstance(webhook, str) else None,
        )
        with self._lock:
            self.jobs[job.job_id] = job
        if not self.jobs_run_until_cancelled:
            thread = threading.Thread(target=self._run, args=(job,), daemon=True)
            self._threads.append(thread)
            thread.start()
        with self._lock:
            if self.answers_after_accepting:
                return self.answers_after_accepting.pop(0)
        return 200, {"id": job.job_id, "status": "IN_QUEUE"}

    def answer_status(self, endpoint_id: str, job_id: str, headers: dict[str, str]) -> Answer:
        with self._lock:
            self.status_requests.append(job_id)
            if self.status_answers:
                return self.status_answers.pop(0)
            job = self.jobs.get(job_id)
        if not self._accepts(headers):
            return 401, {"error": "invalid API key"}
        if job is None or job.endpoint_id != endpoint_id:
            return 404, {"error": "job not found"}
        return 200, job.status_object()

    def answer_cancel(self, endpoint_id: str, job_id: str, headers: dict[str, str]) -> Answer:
        with self._lock:
            self.cancel_requests.append(job_id)
            if self.cancel_answers:
                return self.cancel_answers.pop(0)
            job = self.jobs.get(job_id)
        if not self._accepts(headers):
            return 401, {"error": "invalid API key"}
        if job is None or job.endpoint_id != endpoint_id:
            return 404, {"error": "job not found"}
        if job.result is None:
            job.status = "CANCELLED"
            job.result = {"id": job_id, "status": "CANCELLED"}
        return 200, {"id": job_id, "status": job.status}

    def forget(self, job_id: str) -> None:
        """RunPod drops the job: its ttl ran out, or its result expired (30 min after the end)."""
        with self._lock:
            self.jobs.pop(job_id, None)

    def wait_for_webhooks(self, timeout_s: float = 30) -> list[WebhookCall]:
        deadline = time.monotonic() + timeout_s
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))
        return self.webhook_calls

    def _accepts(self, headers: dict[str, str]) -> bool:
        authorization = headers.get("Authorization", "")
        key = authorization.removeprefix("Bearer ")
        return key != authorization and (self.api_keys is None or key in self.api_keys)

    def _run(self, job: FakeJob) -> None:
        job.status = "IN_PROGRESS"
        time.sleep(self._job_delay_s)
        job.result = finish_job(job.job_id, job.job_input)
        job.status = job.result["status"]
        if job.webhook is None:
            return
        call = WebhookCall(job.webhook, job.result)
        with self._lock:
            self.webhook_calls.append(call)
        job_lost = bool(self.webhook_lost and self.webhook_lost(job))
        for attempt in range(WEBHOOK_ATTEMPTS):
            if attempt:
                time.sleep(self._retry_interval_s)
            status = 0 if self.webhooks_lost or job_lost else _post(call.url, call.body)
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
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                body = None
            match self.path.strip("/").split("/"):
                case ["v2", endpoint_id, "run"] if isinstance(body, dict):
                    self._answer(runpod.answer_run(endpoint_id, self._headers(), body))
                case ["v2", _, "run"]:
                    self._answer((400, {"error": "body must be a JSON object"}))
                case ["v2", endpoint_id, "cancel", job_id]:
                    self._answer(runpod.answer_cancel(endpoint_id, job_id, self._headers()))
                case _:
                    self._answer((404, {"error": "not found"}))

        def do_GET(self) -> None:
            match self.path.strip("/").split("/"):
                case ["v2", endpoint_id, *_] if endpoint_id in runpod.unknown_endpoints:
                    self._answer((404, {"error": "endpoint not found"}))
                case ["v2", endpoint_id, "status", job_id]:
                    self._answer(runpod.answer_status(endpoint_id, job_id, self._headers()))
                case ["v2", _, "health"]:
                    self._answer((200, {"jobs": {}, "workers": {"idle": 1, "running": 0}}))
                case _:
                    self._answer((404, {"error": "not found"}))

        def _headers(self) -> dict[str, str]:
            return dict(self.headers.items())

        def _answer(self, answer: Answer) -> None:
            if isinstance(answer, bytes):  # a broken answer, as a faulty network gives
                self.wfile.write(answer)
                self.close_connection = True
                return
            status, document = answer
            payload = json.dumps(document).encode()
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
