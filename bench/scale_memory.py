"""`make scale`, part 3: the watchdog's and the webhook's peak memory at RunPod's largest answer.

Each case runs in a fresh interpreter (``child``): the function module is imported first, alone
(its resident size then is the function's floor), then moto starts in the same process and one
record waits in a real moto execution. The invocation's peak growth (VmHWM, reset just before)
counts moto's share of the request too (it parses the same bytes): the estimate, floor + growth,
is an upper bound of what the function itself needs. moto keeps S3 objects on disk here.

- watchdog: its /status answer (from the fake RunPod, in the parent process) is the largest the
  watchdog reads (runpod_api.MAX_STATUS_BYTES, 32 MiB), and one past it; RunPod's own largest
  results are 10 to 20 MB.
- webhook: RunPod's webhook body as large as a Lambda invocation carries (6 MB payload; the
  body is a little under it once API Gateway's event wraps it).
With large_outputs on the task succeeds with `output_s3`; off it fails with RunPod.OutputTooLarge.

Usage: python -m bench.scale_memory <result file>
"""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, NamedTuple

from bench.limited_runpod import Latency, LimitedRunPod, serve_limited_runpod
from bench.scale_common import (
    API_KEY,
    ENDPOINT_ID,
    TABLE_NAME,
    WATCHDOG_MEMORY_MB,
    WATCHDOG_TIMEOUT_S,
    WEBHOOK_MEMORY_MB,
    part_main,
)
from localdev.fake_runpod import FakeJob, FakeRunPod

MIB = 1024 * 1024
READ_BOUND = 32 * MIB  # runpod_api.MAX_STATUS_BYTES
WEBHOOK_BODY_BYTES = 5_500_000
BUCKET = "scale-large-outputs"
JOB_ID = "job-large"


class Case(NamedTuple):
    function: str
    answer_bytes: int
    large_outputs: bool
    memory_mb: int


CASES = (
    Case("watchdog", READ_BOUND - 64 * 1024, True, WATCHDOG_MEMORY_MB),
    Case("watchdog", READ_BOUND - 64 * 1024, False, WATCHDOG_MEMORY_MB),
    Case("watchdog", READ_BOUND + MIB, True, WATCHDOG_MEMORY_MB),
    Case("webhook", WEBHOOK_BODY_BYTES, True, WEBHOOK_MEMORY_MB),
    Case("webhook", WEBHOOK_BODY_BYTES, False, WEBHOOK_MEMORY_MB),
)


def job_status(job_id: str, size_bytes: int) -> dict[str, Any]:
    """A COMPLETED job-status object of about ``size_bytes`` of JSON, its output all numbers
    (the costliest kind to parse: each one an exact Decimal)."""
    value = 0.123456789
    count = max(1, (size_bytes - 100) // len(f"{value}, "))
    return {"id": job_id, "status": "COMPLETED", "output": {"scores": [value] * count}}


def run(_: list[str]) -> dict[str, Any]:
    runpod = FakeRunPod()
    limited = LimitedRunPod(runpod, latency=Latency(0.15, 0.15))
    results = []
    with serve_limited_runpod(limited) as api, tempfile.TemporaryDirectory() as scratch:
        result_file = Path(scratch) / "case.json"
        floors = {
            name: _child(
                result_file,
                {**CASES[0]._asdict(), "function": name, "api": api, "floor_only": True},
            )["floor_kib"]
            for name in ("watchdog", "webhook")
        }
        for case in CASES:
            job = FakeJob(JOB_ID, ENDPOINT_ID, {}, None, status="COMPLETED")
            job.result = job_status(JOB_ID, case.answer_bytes)
            runpod.jobs[JOB_ID] = job
            figures = _child(result_file, {**case._asdict(), "api": api})
            results.append({**case._asdict(), "floor_kib": floors[case.function], **figures})
            runpod.jobs.clear()
    return {"cases": results}


def _child(result_file: Path, spec: dict[str, Any]) -> dict[str, Any]:
    result_file.unlink(missing_ok=True)
    completed = subprocess.run(
        [sys.executable, "-m", "bench.scale_memory", "--child", str(result_file)],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "MOTO_S3_DEFAULT_KEY_BUFFER_SIZE": str(MIB)},
    )
    if completed.returncode or not result_file.exists():
        raise RuntimeError(f"{spec} failed: {completed.stderr[-2000:]}")
    figures: dict[str, Any] = json.loads(result_file.read_text())
    return figures


def child(result_file: str) -> None:
    """One case in this fresh interpreter (see the module's docstring)."""
    from bench.scale_common import rss_kib, set_aws_environment

    spec = json.loads(sys.stdin.read())
    set_aws_environment()
    settings = {
        "CALLBACK_TABLE_NAME": TABLE_NAME,
        "RUNPOD_API_KEY_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:x",
        "RUNPOD_API_BASE_URL": spec["api"],
    }
    if spec["large_outputs"]:
        settings["LARGE_OUTPUT_BUCKET"] = BUCKET
    from localdev.runtime import load_function

    name = "watchdog" if spec["function"] == "watchdog" else "webhook"
    if spec.get("floor_only"):
        load_function(name, None, **settings)
        Path(result_file).write_text(json.dumps({"floor_kib": rss_kib()}))
        os._exit(0)
    figures = _invoke(name, spec, settings)
    Path(result_file).write_text(json.dumps(figures))
    sys.stdout.flush()
    os._exit(0)


def _invoke(name: str, spec: dict[str, Any], settings: dict[str, str]) -> dict[str, Any]:
    import boto3

    from bench.scale_common import measured, quiet
    from localdev import aws_setup
    from localdev.lambda_context import LocalLambdaContext
    from localdev.local_aws import in_process_aws
    from localdev.local_webhook import webhook_event
    from localdev.runtime import load_function

    with in_process_aws():  # before the function's clients exist, so that moto answers them
        function = load_function(name, None, **settings)
        quiet(function)
        dynamodb, stepfunctions = boto3.client("dynamodb"), boto3.client("stepfunctions")
        aws_setup.create_callback_table(dynamodb, TABLE_NAME)
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        secret = boto3.client("secretsmanager").create_secret(
            Name="runpod-api-key", SecretString=API_KEY
        )
        os.environ["RUNPOD_API_KEY_SECRET_ARN"] = secret["ARN"]
        definition = aws_setup.waiting_task_definition(TABLE_NAME)
        item = definition["States"]["WaitForRunPod"]["Parameters"]["Item"]
        item["endpoint_id"] = {"S": ENDPOINT_ID}
        item["created_at"] = {"S": "2026-01-06T12:00:00.000Z"}  # long stale
        machine = aws_setup.create_state_machine(stepfunctions, "scale-memory", definition)
        execution, token = aws_setup.start_waiting_execution(
            stepfunctions, machine, segment_filename="seg_large.mp4", job_id=JOB_ID
        )
        aws_setup.wait_for_record(dynamodb, TABLE_NAME, token)
        with measured() as cost:
            if spec["function"] == "watchdog":
                context = LocalLambdaContext(remaining_time_ms=WATCHDOG_TIMEOUT_S * 1000)
                answer = function.lambda_handler({}, context)
            else:
                body = json.dumps(job_status(JOB_ID, spec["answer_bytes"]))
                event = webhook_event(token, body)
                del body
                answer = function.lambda_handler(event, LocalLambdaContext())
                del event
                answer = {"statusCode": answer["statusCode"]}
        result = aws_setup.wait_for_execution(stepfunctions, execution)
        output = json.loads(result.get("output") or "{}")
        error = aws_setup.execution_failure(stepfunctions, execution).get("error")
        return {
            "answer": answer,
            "execution": result["status"],
            "output_s3": "output_s3" in output,
            "error": error,
            "growth_kib": cost.peak_growth_kib,
        }


if __name__ == "__main__":
    if sys.argv[1] == "--child":
        child(sys.argv[2])
    else:
        part_main(run)
