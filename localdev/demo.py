"""`make demo`: a state machine waits for a RunPod job and resumes when the webhook arrives.

Everything runs here: moto plays AWS, a loopback HTTP server plays API Gateway in front of the
real lambda/handler.py, and this script plays RunPod over real HTTP. Exit status 0 only when
every outcome is the expected one.
"""

import json
import logging
import os
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import boto3

from localdev import aws_setup
from localdev.local_aws import local_aws
from localdev.runtime import load_handler
from localdev.webhook_server import serve_webhook

TABLE = "demo-runpod-callbacks"
COLOUR = sys.stdout.isatty() and os.environ.get("NO_COLOR") is None


def paint(text: str, colour: str) -> str:
    codes = {"green": "32", "red": "31", "dim": "2", "bold": "1"}
    return f"\033[{codes[colour]}m{text}\033[0m" if COLOUR else text


@dataclass
class Report:
    failures: int = 0

    def line(self, step: str, subject: str, result: str, detail: str = "", ok: bool = True) -> None:
        mark = paint("✓", "green") if ok else paint("✗", "red")
        print(f" {mark} {step:<18} {subject:<16} {result:<24} {paint(detail, 'dim')}".rstrip())
        if not ok:
            self.failures += 1


def post(url: str, body: str) -> tuple[int, dict[str, Any]]:
    """Play RunPod: POST the job-status JSON to the webhook URL."""
    request = urllib.request.Request(  # noqa: S310 - loopback URL built here
        url, data=body.encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def run_demo() -> int:
    logging.getLogger("moto").setLevel(logging.CRITICAL)  # it logs each failed execution in full
    report = Report()
    with local_aws() as endpoint:
        os.environ["LOG_LEVEL"] = os.environ.get("DEMO_LOG_LEVEL", "ERROR")
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"  # EMF lines would drown the story
        handler = load_handler(TABLE, endpoint)
        dynamodb = boto3.client("dynamodb", endpoint_url=endpoint)
        stepfunctions = boto3.client("stepfunctions", endpoint_url=endpoint)
        aws_setup.create_callback_table(dynamodb, TABLE)
        machine = aws_setup.create_waiting_state_machine(stepfunctions, TABLE, name="runpod-job")
        with serve_webhook(handler.lambda_handler) as webhook:
            print(paint("RunPod → webhook → Step Functions, all on this machine", "bold"))
            print(paint(f"   AWS (moto) {endpoint}   webhook {webhook}/webhook/{{token}}", "dim"))
            print()
            _play(report, dynamodb, stepfunctions, machine, f"{webhook}/webhook")
            print()
            _summary(dynamodb)
    print()
    if report.failures:
        print(paint(f"{report.failures} outcome(s) differ from the expected ones.", "red"))
        return 1
    print(paint("Every outcome is the expected one.", "green"))
    return 0


def _play(report: Report, dynamodb: Any, stepfunctions: Any, machine: str, base: str) -> None:
    jobs = {}
    for segment, job_id in (("seg_0001.mp4", "runpod-job-001"), ("seg_0002.mp4", "runpod-job-002")):
        execution, token = aws_setup.start_waiting_execution(
            stepfunctions, machine, segment_filename=segment, job_id=job_id
        )
        aws_setup.wait_for_record(dynamodb, TABLE, token)
        jobs[segment] = (execution, token, job_id)
        report.line("start execution", segment, "RUNNING", f"token stored as {token[:4]}…")

    execution, token, job_id = jobs["seg_0001.mp4"]
    completed = {
        "id": job_id,
        "status": "COMPLETED",
        "delayTime": 812,
        "executionTime": 20417,
        "output": {"upscaled": "s3://videos/seg_0001_4k.mp4", "psnr": 38.7},
    }
    _deliver(
        report, "webhook COMPLETED", f"{base}/{token}", completed, expected=200, saying="COMPLETED"
    )
    _journey(report, stepfunctions, execution, "seg_0001.mp4", "SUCCEEDED")

    execution, token, job_id = jobs["seg_0002.mp4"]
    failed = {"id": job_id, "status": "FAILED", "error": "CUDA out of memory"}
    _deliver(report, "webhook FAILED", f"{base}/{token}", failed, expected=200, saying="FAILED")
    _journey(report, stepfunctions, execution, "seg_0002.mp4", "FAILED")

    _, token, _ = jobs["seg_0001.mp4"]
    _deliver(
        report, "retried delivery", f"{base}/{token}", completed, expected=200, saying="already"
    )
    _deliver(report, "unknown token", f"{base}/no-such-callback", completed, expected=404)
    _deliver(report, "malformed body", f"{base}/{token}", "{not json", expected=400)


def _deliver(
    report: Report, step: str, url: str, body: Any, *, expected: int, saying: str = ""
) -> None:
    status, answer = post(url, body if isinstance(body, str) else json.dumps(body))
    said = (
        answer.get("message", "")
        if status != 200
        else f"{answer.get('status')}: {answer.get('message')}"
    )
    ok = status == expected and saying in said
    report.line(step, url.rsplit("/", 1)[-1][:4] + "…", f"HTTP {status}", said, ok)


def _journey(
    report: Report, stepfunctions: Any, execution_arn: str, segment: str, expected: str
) -> None:
    final = aws_setup.wait_for_execution(stepfunctions, execution_arn)
    if final["status"] == "SUCCEEDED":
        detail = json.dumps(json.loads(final["output"])["output"])
    else:
        detail = str(aws_setup.execution_failure(stepfunctions, execution_arn).get("error"))
    report.line(
        "execution", segment, f"RUNNING → {final['status']}", detail, final["status"] == expected
    )


def _summary(dynamodb: Any) -> None:
    print(paint("Callback records", "bold"))
    columns = ("callback", "job_id", "segment", "status", "completed_at")
    print("   " + "  ".join(f"{name:<20}" for name in columns).rstrip())
    for item in sorted(
        dynamodb.scan(TableName=TABLE)["Items"], key=lambda row: row["segment_filename"]["S"]
    ):
        row = (
            item["callback_token"]["S"][:4] + "…",
            item.get("job_id", {}).get("S", ""),
            item["segment_filename"]["S"],
            item["status"]["S"],
            item.get("completed_at", {}).get("S", ""),
        )
        print("   " + "  ".join(f"{value:<20}" for value in row).rstrip())


if __name__ == "__main__":
    sys.exit(run_demo())
