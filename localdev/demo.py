"""`make demo`: a state machine runs RunPod jobs as waiting tasks, resumed by the webhook; the
watchdog recovers a result whose webhooks were all lost; the canceller cancels the job of a
stopped execution as soon as Step Functions' event comes. Each ended job gets its estimated cost.

Everything runs here: moto plays AWS (state machines really execute), a loopback HTTP server
plays API Gateway in front of the real lambda/webhook.py; lambda/submit.py, lambda/watchdog.py
and lambda/canceller.py run as Lambda would run them (the canceller is handed the event
EventBridge would deliver: moto sends none), and a fake RunPod accepts the jobs, answers /status
and /cancel and calls the webhook over real HTTP. Exit status 0 only when every outcome is the
expected one.
"""

import json
import logging
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import boto3

from localdev import aws_setup
from localdev.fake_runpod import FakeRunPod, serve_fake_runpod
from localdev.lambda_context import SUBMIT_TIMEOUT_MS, WATCHDOG_TIMEOUT_MS, LocalLambdaContext
from localdev.local_aws import local_aws
from localdev.loopback import post_json
from localdev.runtime import load_function
from localdev.webhook_server import serve_webhook

TABLE = "demo-runpod-callbacks"
ENDPOINT_ID = "upscaler-v2"
STALE_AFTER_SECONDS = 1  # the module's default is 60: the demo does not wait a minute
GPU_PRICE = {ENDPOINT_ID: 0.00031}  # USD a second of worker time (gpu_price_per_second)
# How long a stopped execution's job runs on at most without the canceller: the watchdog's
# default period (2 minutes) plus its default stale_after_seconds (60).
SWEEP_DELAY_S = 180
COLOUR = sys.stdout.isatty() and os.environ.get("NO_COLOR") is None


def paint(text: str, colour: str) -> str:
    codes = {"green": "32", "red": "31", "dim": "2", "bold": "1"}
    return f"\033[{codes[colour]}m{text}\033[0m" if COLOUR else text


@dataclass
class Report:
    failures: int = 0

    def line(self, step: str, subject: str, result: str, detail: str = "", ok: bool = True) -> None:
        mark = paint("✓", "green") if ok else paint("✗", "red")
        print(f" {mark} {step:<16} {subject:<13} {result:<24} {paint(detail, 'dim')}".rstrip())
        if not ok:
            self.failures += 1


@dataclass
class LocalSystem:
    dynamodb: Any
    stepfunctions: Any
    submit: Any
    watchdog: Any
    canceller: Any
    runpod: FakeRunPod
    state_machine_arn: str
    webhook_base_url: str


def run_demo() -> int:
    logging.getLogger("moto").setLevel(logging.CRITICAL)  # it logs each failed execution in full
    os.environ["LOG_LEVEL"] = os.environ.get("DEMO_LOG_LEVEL", "ERROR")
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"  # EMF lines would drown the story
    report = Report()
    runpod = FakeRunPod(retry_interval_s=1)
    with local_aws() as endpoint, serve_fake_runpod(runpod) as runpod_api:
        prices = json.dumps(GPU_PRICE)
        webhook_function = load_function(
            "webhook", endpoint, CALLBACK_TABLE_NAME=TABLE, GPU_PRICE_PER_SECOND=prices
        )
        with serve_webhook(webhook_function.lambda_handler) as webhook:
            system = set_up_local_system(endpoint, runpod, runpod_api, f"{webhook}/webhook")
            print(paint("RunPod → webhook → Step Functions, all on this machine", "bold"))
            print(
                paint(
                    f"   AWS (moto) {endpoint}   webhook {webhook}   RunPod (fake) {runpod_api}",
                    "dim",
                )
            )
            print()
            _play(report, system)
            print()
            _summary(system.dynamodb)
    print()
    if report.failures:
        print(paint(f"{report.failures} outcome(s) differ from the expected ones.", "red"))
        return 1
    print(paint("Every outcome is the expected one.", "green"))
    return 0


def set_up_local_system(
    endpoint: str | None, runpod: FakeRunPod, runpod_api: str, webhook_base_url: str
) -> LocalSystem:
    """The table, the API key's secret, a state machine whose task invokes the submit function,
    and the submit, watchdog and canceller functions loaded against them; also used by
    `make bench`.
    Endpoint None: the AWS botocore reaches by itself (moto in-process under mock_aws)."""
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint)
    stepfunctions = boto3.client("stepfunctions", endpoint_url=endpoint)
    aws_setup.create_callback_table(dynamodb, TABLE)
    secret = boto3.client("secretsmanager", endpoint_url=endpoint).create_secret(
        Name="demo-runpod-api-key", SecretString="rp_demo_key"
    )
    function_arn = aws_setup.create_function(
        boto3.client("iam", endpoint_url=endpoint),
        boto3.client("lambda", endpoint_url=endpoint),
        "demo-runpod-submit",
        "submit",
    )
    submit = load_function(
        "submit",
        endpoint,
        CALLBACK_TABLE_NAME=TABLE,
        WEBHOOK_BASE_URL=webhook_base_url,
        RUNPOD_API_KEY_SECRET_ARN=secret["ARN"],
        RUNPOD_API_BASE_URL=runpod_api,
    )
    watchdog = load_function(
        "watchdog",
        endpoint,
        CALLBACK_TABLE_NAME=TABLE,
        RUNPOD_API_KEY_SECRET_ARN=secret["ARN"],
        RUNPOD_API_BASE_URL=runpod_api,
        STALE_AFTER_SECONDS=str(STALE_AFTER_SECONDS),
        GPU_PRICE_PER_SECOND=json.dumps(GPU_PRICE),
    )
    canceller = load_function(
        "canceller",
        endpoint,
        CALLBACK_TABLE_NAME=TABLE,
        RUNPOD_API_KEY_SECRET_ARN=secret["ARN"],
        RUNPOD_API_BASE_URL=runpod_api,
    )
    machine = aws_setup.create_state_machine(
        stepfunctions, "upscale-segment", aws_setup.submitting_task_definition(function_arn)
    )
    return LocalSystem(
        dynamodb, stepfunctions, submit, watchdog, canceller, runpod, machine, webhook_base_url
    )


def _play(report: Report, system: LocalSystem) -> None:
    succeeding, _ = _run_job(report, system, "seg_0001.mp4", {"video": "s3://videos/seg_0001.mp4"})
    _journey(report, system.stepfunctions, succeeding, "seg_0001.mp4", "SUCCEEDED")
    failing, _ = _run_job(report, system, "seg_0002.mp4", {"fail_with": "CUDA out of memory"})
    _journey(report, system.stepfunctions, failing, "seg_0002.mp4", "FAILED")

    first_call = system.runpod.webhook_calls[0]
    retry = first_call.body
    _deliver(report, "RunPod retries", first_call.url, retry, expected=200, saying="already")
    unknown = f"{system.webhook_base_url}/no-such-callback"
    _deliver(report, "unknown token", unknown, retry, expected=404)
    _deliver(report, "malformed body", first_call.url, "{not json", expected=400)

    system.runpod.webhooks_lost = True  # API Gateway down longer than RunPod's 3 tries
    lost, _ = _run_job(report, system, "seg_0003.mp4", {"video": "s3://videos/seg_0003.mp4"})
    system.runpod.webhooks_lost = False
    _watchdog(report, system, "recovered")
    _journey(report, system.stepfunctions, lost, "seg_0003.mp4", "SUCCEEDED")

    system.runpod.jobs_run_until_cancelled = True  # a long GPU job
    orphan, job_id = _run_job(report, system, "seg_0004.mp4", {"video": "s3://videos/seg4.mp4"})
    system.runpod.jobs_run_until_cancelled = False
    _stop(report, system, orphan, "seg_0004.mp4")
    report.line(
        "RunPod job",
        "seg_0004.mp4",
        system.runpod.jobs[job_id].status,
        f"POST /{ENDPOINT_ID}/cancel/{job_id[:10]}…",
        system.runpod.cancel_requests == [job_id],
    )


def _watchdog(report: Report, system: LocalSystem, expected: str) -> None:
    """One scheduled run, once the record is older than STALE_AFTER_SECONDS."""
    time.sleep(STALE_AFTER_SECONDS + 1)
    summary = system.watchdog.lambda_handler(
        {}, LocalLambdaContext(remaining_time_ms=WATCHDOG_TIMEOUT_MS)
    )
    done = {name: count for name, count in summary.items() if count}
    report.line(
        "watchdog run",
        "(scheduled)",
        f"{expected} {summary[expected]}",
        ", ".join(f"{name} {count}" for name, count in done.items()),
        summary[expected] == 1,
    )


def _stop(report: Report, system: LocalSystem, execution_arn: str, segment: str) -> None:
    """A user stops the execution while its job runs; Step Functions' event reaches the
    canceller."""
    token = str(system.runpod.runs[-1].body["webhook"]).rsplit("/", 1)[-1]
    record = system.dynamodb.get_item(TableName=TABLE, Key={"callback_token": {"S": token}})
    task_token = record["Item"]["task_token"]["S"]
    stopped_at = time.monotonic()
    final = aws_setup.stop_waiting_execution(system.stepfunctions, execution_arn, task_token)
    moto_says = f"the job runs on (moto says {final['status']})"
    report.line("stop execution", segment, "RUNNING → ABORTED", moto_says)
    event = aws_setup.status_change_event(final, "ABORTED")
    counts = system.canceller.lambda_handler(event, LocalLambdaContext())
    after_s = time.monotonic() - stopped_at
    report.line(
        "canceller",
        "(EventBridge)",
        f"cancelled {counts.get('cancelled', 0)}",
        f"{after_s:.2f} s after the stop, not at the sweep (up to {SWEEP_DELAY_S // 60} min)",
        counts.get("cancelled") == 1,
    )


def _run_job(
    report: Report, system: LocalSystem, segment: str, job_input: dict[str, Any]
) -> tuple[str, str]:
    """Start an execution and submit its job; returns the execution and RunPod's job id."""
    execution = aws_setup.start_submitting_execution(
        system.stepfunctions,
        system.state_machine_arn,
        endpoint_id=ENDPOINT_ID,
        job_input=job_input,
        segment_filename=segment,
    )
    report.line("start execution", segment, "RUNNING", "Task: lambda:invoke.waitForTaskToken")
    payload = aws_setup.scheduled_lambda_payload(system.stepfunctions, execution)
    submitted = system.submit.lambda_handler(
        payload, LocalLambdaContext(remaining_time_ms=SUBMIT_TIMEOUT_MS)
    )
    token = str(system.runpod.runs[-1].body["webhook"]).rsplit("/", 1)[-1]
    report.line(
        "submit",
        segment,
        f"RunPod job {submitted['job_id'][:10]}…",
        f"record stored, then POST /{ENDPOINT_ID}/run (callback {token[:4]}…)",
        submitted["status"] == "SUBMITTED",
    )
    if system.runpod.jobs_run_until_cancelled:
        return execution, submitted["job_id"]
    system.runpod.wait_for_webhooks()
    call = system.runpod.webhook_calls[-1]
    if system.runpod.webhooks_lost:
        result, expected = "lost, 3 tries", [0, 0, 0]
    else:
        result, expected = f"HTTP {call.statuses[-1]}", [200]
    report.line(
        "RunPod webhook",
        call.body["status"],
        result,
        f"POST …/webhook/{token[:4]}…",
        call.statuses == expected,
    )
    return execution, submitted["job_id"]


def _deliver(
    report: Report, step: str, url: str, body: Any, *, expected: int, saying: str = ""
) -> None:
    status, raw = post_json(url, body if isinstance(body, str) else json.dumps(body))
    answer = json.loads(raw or b"{}")
    said = str(answer.get("message", ""))
    if status == 200:
        said = f"{answer.get('status')}: {said}"
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
    _row(("callback", "job_id", "segment", "status", "est. cost"))
    items = [item for item in dynamodb.scan(TableName=TABLE)["Items"] if "status" in item]
    for item in sorted(items, key=lambda row: row["segment_filename"]["S"]):
        _row(
            (
                item["callback_token"]["S"][:4] + "…",
                item.get("job_id", {}).get("S", ""),
                item["segment_filename"]["S"],
                item["status"]["S"],
                _cost(item),
            )
        )


def _cost(item: dict[str, Any]) -> str:
    """The record's estimated GPU cost: RunPod's execution time times the endpoint's price."""
    usd = item.get("result", {}).get("M", {}).get("estimated_cost_usd", {}).get("N")
    return f"${usd}" if usd else ""


def _row(cells: tuple[str, ...], widths: tuple[int, ...] = (10, 18, 14, 11, 12)) -> None:
    print(
        "   "
        + " ".join(f"{cell:<{width}}" for cell, width in zip(cells, widths, strict=True)).rstrip()
    )


if __name__ == "__main__":
    sys.exit(run_demo())
