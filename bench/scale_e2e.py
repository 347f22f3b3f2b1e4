"""`make scale`, part 4: N jobs end to end through the local system, one webhook in five lost.

moto serves AWS on loopback (ThreadedMotoServer, state machines really run, with
bench/moto_speed.py's shims); each execution's Task invokes the submit function
(`lambda:invoke.waitForTaskToken`), which several worker processes run (Lambda's instances)
with the payload Step Functions scheduled; the fake RunPod (RunPod's limits, a real round
trip) runs each job, then POSTs its webhook to the webhook function served over HTTP as
`localdev` serves it, except for one job in five whose webhook calls are all lost. Then one
watchdog run recovers those. SendTask* calls are counted at moto, per task token.

Usage: python -m bench.scale_e2e <result file> <N> [workers]
"""

import random
import threading
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

import boto3

from bench.limited_runpod import Latency, LimitedRunPod, serve_limited_runpod
from bench.moto_speed import faster_moto
from bench.scale_common import (
    API_KEY,
    ENDPOINT_ID,
    TABLE_NAME,
    WATCHDOG_TIMEOUT_S,
    part_main,
    quiet,
    set_aws_environment,
)
from localdev import aws_setup
from localdev.fake_runpod import FakeJob, FakeRunPod
from localdev.lambda_context import SUBMIT_TIMEOUT_MS, LocalLambdaContext
from localdev.local_aws import local_aws
from localdev.runtime import load_function
from localdev.webhook_server import serve_webhook

LOST_EVERY = 5  # one job in five: its webhook never arrives
WEBHOOK_RETRY_S = 1.0  # RunPod's is 10 s
JOB_SECONDS = 0.5
STALE_AFTER_S = 1  # the module's default is 60: the bench does not wait a minute

_submit: Any = None


def _load_submit(endpoint: str, settings: dict[str, str]) -> None:
    """One worker process: a Lambda instance of the submit function."""
    global _submit  # noqa: PLW0603 - the instance's function, loaded once
    set_aws_environment()
    _submit = load_function("submit", endpoint, **settings)
    quiet(_submit)


def _invoke_submit(payload: dict[str, Any]) -> str:
    context = LocalLambdaContext(remaining_time_ms=SUBMIT_TIMEOUT_MS)
    try:
        return str(_submit.lambda_handler(payload, context)["status"])
    except Exception as error:
        return str(getattr(error, "error_name", type(error).__name__))


class SendTaskCounts:
    """SendTaskSuccess/Failure as moto receives them, per task token."""

    def __init__(self) -> None:
        self.by_token: Counter[str] = Counter()
        self.by_operation: Counter[str] = Counter()
        self._lock = threading.Lock()

    def wrap(self, backend_class: Any) -> None:
        for name in ("send_task_success", "send_task_failure"):
            setattr(backend_class, name, self._counted(getattr(backend_class, name), name))

    def _counted(self, send: Any, name: str) -> Any:
        def counted(backend: Any, task_token: str, *args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.by_token[task_token] += 1
                self.by_operation[name] += 1
            return send(backend, task_token, *args, **kwargs)

        return counted


def _lost(job: FakeJob) -> bool:
    return int(job.job_input.get("index", 0)) % LOST_EVERY == 0


def run(count: int, workers: int) -> dict[str, Any]:
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    set_aws_environment()
    runpod = FakeRunPod(retry_interval_s=WEBHOOK_RETRY_S, job_delay_s=JOB_SECONDS)
    runpod.webhook_lost = _lost
    limited = LimitedRunPod(runpod, latency=Latency())
    sends = SendTaskCounts()
    started = time.perf_counter()
    with faster_moto(), local_aws() as endpoint, serve_limited_runpod(limited) as api:
        sends.wrap(StepFunctionsParserBackend)
        clients: dict[str, Any] = {
            name: boto3.client(name, endpoint_url=endpoint)
            for name in ("dynamodb", "stepfunctions", "secretsmanager", "iam", "lambda")
        }
        stepfunctions = clients["stepfunctions"]
        aws_setup.create_callback_table(clients["dynamodb"], TABLE_NAME)
        secret = clients["secretsmanager"].create_secret(
            Name="runpod-api-key", SecretString=API_KEY
        )
        function_arn = aws_setup.create_function(
            clients["iam"], clients["lambda"], "scale-runpod-submit", "submit"
        )
        machine = aws_setup.create_state_machine(
            stepfunctions, "scale-submit-job", aws_setup.submitting_task_definition(function_arn)
        )
        settings = {
            "CALLBACK_TABLE_NAME": TABLE_NAME,
            "RUNPOD_API_KEY_SECRET_ARN": secret["ARN"],
            "RUNPOD_API_BASE_URL": api,
            "STALE_AFTER_SECONDS": str(STALE_AFTER_S),
        }
        webhook = load_function("webhook", endpoint, **settings)
        quiet(webhook)
        with serve_webhook(webhook.lambda_handler) as webhook_url:
            settings["WEBHOOK_BASE_URL"] = f"{webhook_url}/webhook"
            executions = [
                aws_setup.start_submitting_execution(
                    stepfunctions,
                    machine,
                    endpoint_id=ENDPOINT_ID,
                    job_input={"index": index, "segment": f"s3://videos/seg_{index:06d}.mp4"},
                    segment_filename=f"seg_{index:06d}.mp4",
                )
                for index in range(count)
            ]
            payloads = [
                aws_setup.scheduled_lambda_payload(stepfunctions, arn, timeout_s=60)
                for arn in executions
            ]
            setup_s = time.perf_counter() - started
            submit_started = time.perf_counter()
            with ProcessPoolExecutor(
                workers,
                mp_context=get_context("spawn"),
                initializer=_load_submit,
                initargs=(endpoint, settings),
            ) as pool:
                submitted = Counter(pool.map(_invoke_submit, payloads, chunksize=8))
            submit_s = time.perf_counter() - submit_started
            runpod.wait_for_webhooks(timeout_s=60 + count / 10)
        webhook_statuses = Counter(
            status for call in runpod.webhook_calls for status in call.statuses
        )
        delivered_by_webhook = sum(200 in call.statuses for call in runpod.webhook_calls)
        time.sleep(STALE_AFTER_S + 1.1)
        watchdog = load_function("watchdog", endpoint, **settings)
        quiet(watchdog)
        watch_started = time.perf_counter()
        summary = watchdog.lambda_handler(
            {}, LocalLambdaContext(remaining_time_ms=WATCHDOG_TIMEOUT_S * 1000)
        )
        watch_s = time.perf_counter() - watch_started
        statuses = _final_statuses(stepfunctions, executions)
        counts = limited.counts()
        return {
            "n": count,
            "submit_workers": workers,
            "latency": limited.latency.label(),
            "setup_s": setup_s,
            "submit_s": submit_s,
            "watchdog_s": watch_s,
            "submitted": dict(submitted),
            "webhooks_lost": sum(_lost(job) for job in runpod.jobs.values()),
            "webhook_attempt_statuses": {str(k): v for k, v in webhook_statuses.items()},
            "delivered_by_webhook": delivered_by_webhook,
            "watchdog": summary,
            "send_task_calls": sum(sends.by_token.values()),
            "send_task_by_operation": dict(sends.by_operation),
            "tokens_sent_more_than_once": sum(n > 1 for n in sends.by_token.values()),
            "executions": dict(statuses),
            "runpod": counts,
            "total_s": time.perf_counter() - started,
        }


def _final_statuses(stepfunctions: Any, executions: list[str]) -> Counter[str]:
    deadline = time.monotonic() + 30
    while True:
        statuses = Counter(
            str(stepfunctions.describe_execution(executionArn=arn)["status"]) for arn in executions
        )
        if not statuses["RUNNING"] or time.monotonic() > deadline:
            return statuses
        time.sleep(0.5)


def main(args: list[str]) -> dict[str, Any]:
    count, *rest = args
    random.seed(4)
    return run(int(count), int(rest[0]) if rest else 6)


if __name__ == "__main__":
    part_main(main)
