"""`make bench`: cold start, warm overhead, AWS calls per webhook and zip size, as one table.

Timings are ratios or medians taken in one run: this machine is noisy, absolute numbers are not.
"""

import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from localdev import aws_setup
from localdev.fake_runpod import finish_job
from localdev.lambda_context import LocalLambdaContext
from localdev.local_webhook import LocalWebhook, webhook_event
from localdev.runtime import load_function

ROOT = Path(__file__).resolve().parent.parent
COLD_RUNS = int(os.environ.get("BENCH_COLD_RUNS", "15"))
WARM_DELIVERIES = int(os.environ.get("BENCH_WARM_DELIVERIES", "2000"))
ENVIRONMENT = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "CALLBACK_TABLE_NAME": "bench-runpod-callbacks",
    "POWERTOOLS_SERVICE_NAME": "runpod-webhook",
    "POWERTOOLS_METRICS_NAMESPACE": "RunPodWebhookBench",
    "POWERTOOLS_TRACE_DISABLED": "true",
}
RUNPOD_WEBHOOK = json.dumps(finish_job("runpod-job-123", {"segment": "s3://videos/seg_0001.mp4"}))
BOTO3_FLOOR = "import boto3; boto3.client('stepfunctions'); boto3.client('dynamodb')"
HANDLER_IMPORT = "import handler"


def cold_start_seconds(statement: str) -> float:
    """Time one statement in a fresh interpreter, measured inside it (startup excluded)."""
    program = (
        "import time, sys; sys.path.insert(0, 'lambda'); t = time.perf_counter(); "
        f"{statement}; print(time.perf_counter() - t)"
    )
    output = subprocess.run(
        [sys.executable, "-c", program],
        cwd=ROOT,
        env={**os.environ, **ENVIRONMENT},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(output.strip().splitlines()[-1])


def cold_init_ratio() -> tuple[float, float, float]:
    """Median of handler/floor ratios over alternating runs; also both medians in ms."""
    ratios, floors, handlers = [], [], []
    for _ in range(COLD_RUNS):
        floor = cold_start_seconds(BOTO3_FLOOR)
        handler = cold_start_seconds(HANDLER_IMPORT)
        floors.append(floor)
        handlers.append(handler)
        ratios.append(handler / floor)
    return (
        statistics.median(ratios),
        statistics.median(floors) * 1e3,
        statistics.median(handlers) * 1e3,
    )


def _instant_aws(responses: dict[str, dict[str, Any]]) -> Callable[..., Any]:
    """A before-send hook: every request is answered at once, never leaving the process."""
    from botocore.awsrequest import AWSResponse

    class _Raw:
        def __init__(self, body: bytes) -> None:
            self._body = body

        def stream(self, **_: Any) -> Any:
            yield self._body

    def answer(request: Any, **_: Any) -> Any:
        operation = request.headers["X-Amz-Target"].decode().split(".")[-1]
        body = json.dumps(responses.get(operation, {})).encode()
        response = AWSResponse(request.url, 200, {"x-amzn-RequestId": "bench"}, _Raw(body))
        response._content = body
        return response

    return answer


def warm_overhead_us() -> float:
    """Median handler time per happy-path webhook, AWS answering instantly in-process."""
    handler = load_function("handler", None, **ENVIRONMENT)
    claimed = {
        "Attributes": {
            "callback_token": {"S": "bench-token"},
            "task_token": {"S": "AAAA" * 100},
            "job_id": {"S": "runpod-job-123"},
            "exec_id": {"S": "exec-1"},
            "segment_filename": {"S": "seg_0001.mp4"},
            "status": {"S": "PENDING"},
        }
    }
    for client, responses in (
        (handler.dynamodb, {"UpdateItem": claimed}),
        (handler.stepfunctions, {}),
    ):
        client.meta.events.register_first("before-send", _instant_aws(responses))
    event = webhook_event("bench-token", RUNPOD_WEBHOOK)
    context = LocalLambdaContext()
    samples = []
    with _quiet(handler):
        for _ in range(WARM_DELIVERIES):
            start = time.perf_counter_ns()
            response = handler.lambda_handler(event, context)
            samples.append(time.perf_counter_ns() - start)
            assert response["statusCode"] == 200, response
    return statistics.median(samples) / 1e3


@contextlib.contextmanager
def _quiet(handler: Any) -> Iterator[None]:
    """Logs and EMF lines are still written (they are part of the cost), to /dev/null."""
    with open(os.devnull, "w") as devnull:
        previous_stream = handler.logger.registered_handler.setStream(devnull)
        real_stdout, sys.stdout = sys.stdout, devnull
        try:
            yield
        finally:
            sys.stdout = real_stdout
            handler.logger.registered_handler.setStream(previous_stream)


def calls_per_webhook() -> dict[str, int]:
    """AWS calls the handler makes per webhook, counted against moto."""
    import moto  # before the handler: its clients must be created with moto's hooks in place

    handler = load_function("handler", None, **ENVIRONMENT)

    calls: Counter[str] = Counter()

    def count(**_: Any) -> None:
        calls["total"] += 1

    for client in (handler.dynamodb, handler.stepfunctions):
        client.meta.events.register("before-call", count)
    counts = {}
    with moto.mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        local = LocalWebhook(handler)
        job = local.start_job()
        for scenario, token, webhook in (
            ("happy path", job.callback_token, RUNPOD_WEBHOOK),
            ("duplicate", job.callback_token, RUNPOD_WEBHOOK),
            ("unknown token", "no-such-token", RUNPOD_WEBHOOK),
            ("bad input", job.callback_token, "{not json"),
        ):
            calls.clear()
            with _quiet(handler):
                local.deliver(token, webhook)
            counts[scenario] = calls["total"]
        aws_setup.wait_for_execution(local.stepfunctions, job.execution_arn)
    return counts


def zip_size_bytes() -> int:
    from localdev.lambda_zip import build_lambda_zip

    with tempfile.TemporaryDirectory() as scratch:
        return build_lambda_zip(Path(scratch) / "lambda.zip").stat().st_size


def main() -> int:
    ratio, floor_ms, handler_ms = cold_init_ratio()
    calls = calls_per_webhook()  # against moto, before the warm run answers AWS calls itself
    warm_us = warm_overhead_us()
    targets = {"happy path": 3, "duplicate": 1, "unknown token": 1, "bad input": 0}
    rows = [
        ("cold init ratio (handler / boto3+2 clients)", f"{ratio:.2f}", "<= 1.25", ratio <= 1.25),
        ("  boto3 + clients floor, median", f"{floor_ms:.0f} ms", "", True),
        ("  import handler, median", f"{handler_ms:.0f} ms", "", True),
        (f"warm handler overhead, median of {WARM_DELIVERIES}", f"{warm_us:.0f} µs", "", True),
    ]
    for scenario, target in targets.items():
        rows.append(
            (
                f"AWS calls: {scenario}",
                str(calls[scenario]),
                f"<= {target}",
                calls[scenario] <= target,
            )
        )
    rows.append(("lambda/ zip size", f"{zip_size_bytes():,} bytes", "", True))
    width = max(len(row[0]) for row in rows)
    print(f"{'measure':<{width}}  {'value':>14}  {'target':>8}  ok")
    for name, value, target, ok in rows:
        print(f"{name:<{width}}  {value:>14}  {target:>8}  {'yes' if ok else 'NO'}")
    print(f"(cold runs: {COLD_RUNS} alternating pairs; python {sys.version.split()[0]})")
    return 0 if all(row[3] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
