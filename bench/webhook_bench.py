"""`make bench`: cold start, warm overhead, memory, AWS requests and request units per job, zip
size and the AWS cost per 1,000 jobs, as one table.

Timings are ratios or medians taken in one run: this machine is noisy, absolute numbers are not.
Memory is measured in a fresh interpreter per function (bench/warm_memory.py); AWS requests and
DynamoDB units on moto through a job's whole flow (bench/aws_flow.py); the cost from those at
list prices (bench/aws_cost.py, where every price and assumption is named with its source).
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench import aws_cost, aws_flow, dynamodb_units
from bench.in_process_aws import answered_in_process, output_to
from localdev import aws_setup
from localdev.demo import ENDPOINT_ID
from localdev.fake_runpod import FakeRunPod, finish_job, serve_fake_runpod
from localdev.lambda_context import LocalLambdaContext
from localdev.local_aws import in_process_aws
from localdev.local_webhook import LocalWebhook, webhook_event
from localdev.runtime import SERVICE_NAMES, load_function

ROOT = Path(__file__).resolve().parent.parent
COLD_RUNS = int(os.environ.get("BENCH_COLD_RUNS", "15"))
WARM_DELIVERIES = int(os.environ.get("BENCH_WARM_DELIVERIES", "2000"))
MEMORY_INVOCATIONS = int(os.environ.get("BENCH_MEMORY_INVOCATIONS", "1000"))
MEMORY_WARM_UP = 100
# A leak of a kilobyte per invocation would grow the peak by about 0.9 MiB over the 900 after the
# warm-up; fragmentation alone stays well below.
LEAK_LIMIT_KIB = 1024
LARGEST_RESULT_BYTES = 5_500_000  # a webhook body a little under Lambda's 6 MB payload limit
DEFAULT_MEMORY_MB = 256  # variables.tf, lambda_memory_size
MEMORY_SIZES_MB = (128, 256, 512)
AWS_TASK_TOKEN_MAX = 2048  # SendTaskSuccess taskToken, botocore's service model: max 2048
ENVIRONMENT = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "CALLBACK_TABLE_NAME": "bench-runpod-callbacks",
    "POWERTOOLS_SERVICE_NAME": "runpod-webhook",
    "POWERTOOLS_METRICS_NAMESPACE": "RunPodWebhookBench",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "LOG_LEVEL": "INFO",
}
RUNPOD_WEBHOOK = json.dumps(finish_job("runpod-job-123", {"segment": "s3://videos/seg_0001.mp4"}))
BOTO3_FLOOR = "import boto3; boto3.client('stepfunctions'); boto3.client('dynamodb')"
WEBHOOK_IMPORT = "import webhook"
CLAIMED_RECORD = {
    "Attributes": {
        "callback_token": {"S": "bench-token"},
        "task_token": {"S": "AAAA" * 100},
        "job_id": {"S": "runpod-job-123"},
        "exec_id": {"S": "exec-1"},
        "segment_filename": {"S": "seg_0001.mp4"},
        "status": {"S": "PENDING"},
    }
}
API_KEY_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:bench-runpod-api-key"
SECRET = {"ARN": API_KEY_ARN, "Name": "bench-runpod-api-key", "SecretString": "rp_bench_key"}

Row = tuple[str, str, str, bool]


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
    """Median of webhook/floor ratios over alternating runs; also both medians in ms."""
    ratios, floors, webhooks = [], [], []
    for _ in range(COLD_RUNS):
        floor = cold_start_seconds(BOTO3_FLOOR)
        webhook = cold_start_seconds(WEBHOOK_IMPORT)
        floors.append(floor)
        webhooks.append(webhook)
        ratios.append(webhook / floor)
    return (
        statistics.median(ratios),
        statistics.median(floors) * 1e3,
        statistics.median(webhooks) * 1e3,
    )


def warm_overhead_us() -> float:
    """Median webhook function time per happy-path webhook, AWS answering instantly in-process."""
    function = load_function("webhook", None, **ENVIRONMENT)
    event = webhook_event("bench-token", RUNPOD_WEBHOOK)
    context = LocalLambdaContext()
    samples = []
    with (
        answered_in_process(function, {"UpdateItem": CLAIMED_RECORD}),
        open(os.devnull, "w") as devnull,
        output_to(function, devnull),  # logs and EMF lines are still written: part of the cost
    ):
        for _ in range(WARM_DELIVERIES):
            start = time.perf_counter_ns()
            response = function.lambda_handler(event, context)
            samples.append(time.perf_counter_ns() - start)
            assert response["statusCode"] == 200, response
    return statistics.median(samples) / 1e3


def calls_per_webhook() -> dict[str, int]:
    """AWS calls the webhook function makes per webhook, counted against moto."""

    function = load_function("webhook", None, **ENVIRONMENT)

    calls: Counter[str] = Counter()

    def count(**_: Any) -> None:
        calls["total"] += 1

    for client in (function.dynamodb, function.stepfunctions):
        client.meta.events.register("before-call", count)
    counts = {}
    with (
        in_process_aws(),
        open(os.devnull, "w") as devnull,
        output_to(function, devnull),
    ):
        local = LocalWebhook(function)
        job = local.start_job()
        for scenario, token, webhook in (
            ("happy path", job.callback_token, RUNPOD_WEBHOOK),
            ("duplicate", job.callback_token, RUNPOD_WEBHOOK),
            ("unknown token", "no-such-token", RUNPOD_WEBHOOK),
            ("bad input", job.callback_token, "{not json"),
        ):
            calls.clear()
            local.deliver(token, webhook)
            counts[scenario] = calls["total"]
        aws_setup.wait_for_execution(local.stepfunctions, job.execution_arn)
    for client in (function.dynamodb, function.stepfunctions):
        client.meta.events.unregister("before-call", count)
    return counts


def warm_memory(module: str, settings: dict[str, str], spec: dict[str, Any]) -> dict[str, float]:
    """bench/warm_memory.py's report for one function, run in a fresh interpreter."""
    environment = {**os.environ, **ENVIRONMENT, **settings}
    environment["POWERTOOLS_SERVICE_NAME"] = SERVICE_NAMES[module]
    finished = subprocess.run(
        [sys.executable, "-m", "bench.warm_memory", module],
        cwd=ROOT,
        env=environment,
        input=json.dumps({"invocations": MEMORY_INVOCATIONS, "warm_up": MEMORY_WARM_UP, **spec}),
        capture_output=True,
        text=True,
        check=False,
    )
    if finished.returncode:
        raise RuntimeError(f"bench.warm_memory {module} failed:\n{finished.stderr}")
    output = finished.stdout
    report: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return report


def memory_of_functions() -> dict[str, dict[str, float]]:
    """Each function warm after MEMORY_INVOCATIONS invocations: webhooks delivered, jobs
    submitted (to a fake RunPod on loopback), watchdog runs that find nothing."""
    runpod = FakeRunPod()
    runpod.jobs_run_until_cancelled = True  # it only has to answer /run
    submit_payload = {
        "task_token": "AAAA" * 100,
        "endpoint_id": ENDPOINT_ID,
        "input": {"video": "s3://videos/seg_0001.mp4", "scale": 2},
        "exec_id": "exec-1",
        "segment_filename": "seg_0001.mp4",
    }
    with serve_fake_runpod(runpod) as runpod_api:
        runpod_settings = {
            "RUNPOD_API_KEY_SECRET_ARN": API_KEY_ARN,
            "RUNPOD_API_BASE_URL": runpod_api,
        }
        return {
            "webhook": warm_memory(
                "webhook",
                {},
                {
                    "event": webhook_event("bench-token", RUNPOD_WEBHOOK),
                    "aws": {"UpdateItem": CLAIMED_RECORD},
                    "expect": {"statusCode": 200},
                    "large_result": {
                        "callback_token": "bench-token",
                        "job_id": "runpod-job-123",
                        "size_bytes": LARGEST_RESULT_BYTES,
                    },
                },
            ),
            "submit": warm_memory(
                "submit",
                {**runpod_settings, "WEBHOOK_BASE_URL": "https://example.invalid/v1/webhook"},
                {
                    "event": submit_payload,
                    "aws": {"GetSecretValue": SECRET},
                    "expect": {"status": "SUBMITTED"},
                },
            ),
            "watchdog": warm_memory(
                "watchdog",
                runpod_settings,
                {
                    "event": {},
                    "aws": {"GetSecretValue": SECRET, "Query": {"Items": []}},
                    "expect": {"checked": 0, "errors": 0},
                },
            ),
        }


def zip_size_bytes() -> int:
    from localdev.lambda_zip import build_lambda_zip

    with tempfile.TemporaryDirectory() as scratch:
        return build_lambda_zip(Path(scratch) / "lambda.zip").stat().st_size


def memory_rows(memory: dict[str, dict[str, float]]) -> list[Row]:
    labels = {
        "webhook": ("webhook", "webhooks"),
        "submit": ("submit", "submissions"),
        "watchdog": ("watchdog", "runs with nothing to do"),
    }
    rows: list[Row] = []
    for module, report in memory.items():
        name, invocations = labels[module]
        growth = report["invocations_kib"] - report["warm_kib"]
        rows += [
            (f"peak RSS, {name}: after import", _mib(report["import_kib"]), "", True),
            (
                f"  after {MEMORY_INVOCATIONS:,} {invocations} (growth since the "
                f"{MEMORY_WARM_UP}th)",
                f"{_mib(report['invocations_kib'])} (+{growth / 1024:.1f})",
                f"+<= {LEAK_LIMIT_KIB // 1024} MiB",
                growth <= LEAK_LIMIT_KIB,
            ),
            ("  with TLS contexts loaded", _mib(report["tls_kib"]), "", True),
        ]
        if "large_result_kib" in report:
            rows.append(
                (
                    f"  then one {LARGEST_RESULT_BYTES / 1e6:.1f} MB result (6 MB payload limit)",
                    _mib(report["large_result_kib"]),
                    f"< {DEFAULT_MEMORY_MB} MiB",
                    report["large_result_kib"] < DEFAULT_MEMORY_MB * 1024,
                )
            )
    return rows


# The webhook: UpdateItem claims the record, UpdateItem marks that the send is attempted (from then
# on the result may have reached Step Functions), SendTask*, UpdateItem finishes the record.
WEBHOOK_REQUESTS = 4


# A watchdog run reads its cursor (GetItem: where the last run stopped, so that more stale records
# than a run takes are all reached in turn), then queries each shard of the pending index, and
# reads the RunPod API key only when a record needs RunPod (then cached for 5 minutes).
def flow_targets() -> dict[str, tuple[str, int]]:
    """phase: (row, target); lambda/ is importable once a function was loaded."""
    from runpod_callbacks.record_table import PENDING_SHARDS

    idle_watchdog_requests = 1 + PENDING_SHARDS
    return {
        "submit": ("AWS requests per job, submit", 3),
        "webhook": ("AWS requests per job, webhook", WEBHOOK_REQUESTS),
        "duplicate": ("AWS requests, RunPod retries a delivered webhook", 1),
        "watchdog, nothing to do": (
            "AWS requests, watchdog run with nothing to do",
            idle_watchdog_requests,
        ),
        "watchdog, recovering": (
            "AWS requests, watchdog run recovering a lost webhook",
            idle_watchdog_requests + 1 + WEBHOOK_REQUESTS,  # + the key, + the webhook's
        ),
    }


def flow_rows(flow: aws_flow.Flow) -> list[Row]:
    phases, index = flow.phases, flow.index
    rows: list[Row] = []
    for phase_name, (row, target) in flow_targets().items():
        phase = phases[phase_name]
        rows.append((row, str(phase.request_count), f"<= {target}", phase.request_count <= target))
        rows.append((f"  {_operations(phase)}", "", "", True))

    def both(measure: Any) -> str:
        return f"{measure(flow.task_token_length):g} / {measure(AWS_TASK_TOKEN_MAX):g}"

    per_job = ("submit", "webhook")
    rows += [
        (
            f"DynamoDB WRU per job (task token {flow.task_token_length} / "
            f"{AWS_TASK_TOKEN_MAX:,} chars)",
            both(lambda length: sum(phases[p].write_units(index, length) for p in per_job)),
            "",
            True,
        ),
        (
            "  a RunPod retry (the claim refused)",
            both(lambda length: phases["duplicate"].write_units(index, length)),
            "",
            True,
        ),
        (
            "  the watchdog recovering a lost webhook",
            both(lambda length: phases["watchdog, recovering"].write_units(index, length)),
            "",
            True,
        ),
        (
            "DynamoDB RRU per watchdog run (nothing to do / recovering)",
            f"{phases['watchdog, nothing to do'].read_units(None):g} / "
            f"{phases['watchdog, recovering'].read_units(None):g}",
            "",
            True,
        ),
        (
            "record + index entry at rest, bytes (same tokens)",
            " / ".join(f"{sum(_stored_bytes(flow, length)):,}" for length in _token_lengths(flow)),
            "",
            True,
        ),
        (
            "log bytes per job at INFO (submit + webhook)",
            f"{sum(phases[p].log_bytes for p in per_job):,}",
            "",
            True,
        ),
        (
            "log bytes per watchdog run with nothing to do",
            f"{phases['watchdog, nothing to do'].log_bytes:,}",
            "",
            True,
        ),
    ]
    return rows


def duration_rows(
    flow: aws_flow.Flow, memory: dict[str, dict[str, float]], init_ms: float
) -> list[Row]:
    def at_sizes(duration: Any, unit: str = "ms", scale: float = 1) -> str:
        values = " / ".join(
            f"{duration(size) / scale:.{0 if scale == 1 else 1}f}" for size in MEMORY_SIZES_MB
        )
        return f"{values} {unit}"

    sizes = " / ".join(str(size) for size in MEMORY_SIZES_MB)
    return [
        (
            f"webhook duration at {sizes} MB (modelled)",
            at_sizes(lambda size: _invocation(flow, memory, "webhook", size).duration_ms),
            "",
            True,
        ),
        (
            f"submit duration at {sizes} MB (modelled)",
            at_sizes(lambda size: _invocation(flow, memory, "submit", size).duration_ms),
            "",
            True,
        ),
        (
            f"INIT at {sizes} MB if held to the CPU share",
            at_sizes(lambda size: aws_cost.billed_ms(init_ms, 0, size), "s", 1000),
            "",
            True,
        ),
        (
            f"cost per 1,000 jobs at {sizes} MB",
            " / ".join(
                f"${sum(aws_cost.job_costs(_job_usage(flow, memory, init_ms, size)).values()):.4f}"
                for size in MEMORY_SIZES_MB
            ),
            "",
            True,
        ),
    ]


def cost_rows(
    flow: aws_flow.Flow, memory: dict[str, dict[str, float]], init_ms: float
) -> list[Row]:
    watchdog = flow.phases["watchdog, nothing to do"]
    schedule = aws_cost.ScheduleUsage(
        invocation=_invocation(flow, memory, "watchdog, nothing to do", DEFAULT_MEMORY_MB),
        read_units=watchdog.read_units(None),
        secret_reads=watchdog.aws_requests("secretsmanager"),
        function_log_bytes=watchdog.log_bytes,
    )
    sections = (
        (
            f"AWS cost per 1,000 jobs ({DEFAULT_MEMORY_MB} MB, {AWS_TASK_TOKEN_MAX:,}-char token)",
            aws_cost.job_costs(_job_usage(flow, memory, init_ms, DEFAULT_MEMORY_MB)),
        ),
        (
            f"watchdog schedule, per day ({aws_cost.WATCHDOG_RUNS_PER_DAY} runs)",
            aws_cost.schedule_costs(schedule),
        ),
        ("per month, whatever the volume", aws_cost.monthly_costs(len(watchdog.metric_names))),
    )
    rows: list[Row] = []
    for title, parts in sections:
        rows.append((title, f"${sum(parts.values()):.4f}", "", True))
        rows += [(f"  {part}", f"${cost:.4f}", "", True) for part, cost in parts.items()]
    alarms = alarm_count()
    rows.append(
        (
            f"alarms, per month, if alarms.enabled ({alarms} with the watchdog)",
            f"${aws_cost.alarms_per_month(alarms):.4f}",
            "",
            True,
        )
    )
    return rows


def alarm_count() -> int:
    """The alarms alarms.tf defines (the webhook's and the watchdog's)."""
    import hcl2

    with (REPO / "alarms.tf").open() as alarms_tf:
        module_locals = hcl2.load(alarms_tf)["locals"]
    return sum(
        len(value)
        for block in module_locals
        for name, value in block.items()
        if name.endswith("_alarms")
    )


def _job_usage(
    flow: aws_flow.Flow, memory: dict[str, dict[str, float]], init_ms: float, size: int
) -> aws_cost.JobUsage:
    """A job's usage at this memory size, with AWS's longest task token (an upper bound)."""
    phases = flow.phases
    init = aws_cost.Invocation(size, aws_cost.billed_ms(init_ms, 0, size))
    return aws_cost.JobUsage(
        invocations=tuple(_invocation(flow, memory, name, size) for name in ("submit", "webhook")),
        init=(init, init),
        webhook_requests=1,
        send_task_calls=phases["webhook"].aws_requests("stepfunctions"),
        write_units=sum(
            phases[name].write_units(flow.index, AWS_TASK_TOKEN_MAX)
            for name in ("submit", "webhook")
        ),
        stored_bytes=_stored_bytes(flow, AWS_TASK_TOKEN_MAX),
        function_log_bytes=sum(phases[name].log_bytes for name in ("submit", "webhook")),
    )


REPO = Path(__file__).resolve().parent.parent
MEASURED_IN = {"submit": "submit", "webhook": "webhook", "watchdog, nothing to do": "watchdog"}


def _invocation(
    flow: aws_flow.Flow, memory: dict[str, dict[str, float]], phase: str, size: int
) -> aws_cost.Invocation:
    """One warm invocation: the CPU time measured here (AWS answered in-process; this machine's
    core taken as one vCPU) at the memory's CPU share, plus the stated network waits."""
    cpu_ms = memory[MEASURED_IN[phase]]["median_us"] / 1000
    waiting_ms = flow.phases[phase].request_count * aws_cost.AWS_REQUEST_MS
    if phase == "submit":
        waiting_ms += aws_cost.RUNPOD_REQUEST_MS
    return aws_cost.Invocation(size, aws_cost.billed_ms(cpu_ms, waiting_ms, size))


def _token_lengths(flow: aws_flow.Flow) -> tuple[int, int]:
    return flow.task_token_length, AWS_TASK_TOKEN_MAX


def _stored_bytes(flow: aws_flow.Flow, token_length: int) -> tuple[int, int]:
    record = aws_flow.with_task_token_length(flow.record, token_length) or {}
    entry = dynamodb_units.index_entry(record, flow.index) or {}
    return dynamodb_units.item_size(record), dynamodb_units.item_size(entry)


def _operations(phase: aws_flow.Phase) -> str:
    operations: Counter[str] = Counter()
    for name, count in phase.requests.items():
        operations[name.rsplit(" ", 1)[-1]] += count
    return ", ".join(name if n == 1 else f"{name} x{n}" for name, n in operations.items())


def _mib(kib: float) -> str:
    return f"{kib / 1024:.1f} MiB"


def main() -> int:
    ratio, floor_ms, handler_ms = cold_init_ratio()
    memory = memory_of_functions()  # first: its interpreters inherit this one's environment
    calls = calls_per_webhook()  # against moto
    flow = aws_flow.measure_flow()  # against moto
    warm_us = warm_overhead_us()
    targets = {"happy path": WEBHOOK_REQUESTS, "duplicate": 1, "unknown token": 1, "bad input": 0}
    rows: list[Row] = [
        ("cold init ratio (webhook / boto3+2 clients)", f"{ratio:.2f}", "<= 1.25", ratio <= 1.25),
        ("  boto3 + clients floor, median", f"{floor_ms:.0f} ms", "", True),
        ("  import webhook, median", f"{handler_ms:.0f} ms", "", True),
        (f"warm webhook overhead, median of {WARM_DELIVERIES}", f"{warm_us:.0f} µs", "", True),
    ]
    for scenario, limit in targets.items():
        rows.append(
            (
                f"AWS calls: {scenario}",
                str(calls[scenario]),
                f"<= {limit}",
                calls[scenario] <= limit,
            )
        )
    rows.append(("lambda/ zip size", f"{zip_size_bytes():,} bytes", "", True))
    rows += memory_rows(memory)
    rows += flow_rows(flow)
    rows += duration_rows(flow, memory, handler_ms)
    rows += cost_rows(flow, memory, handler_ms)
    width, value_width = (max(len(row[column]) for row in rows) for column in (0, 1))
    print(f"{'measure':<{width}}  {'value':>{value_width}}  {'target':>10}  ok")
    for name, value, target, ok in rows:
        print(f"{name:<{width}}  {value:>{value_width}}  {target:>10}  {'yes' if ok else 'NO'}")
    print(
        f"(cold runs: {COLD_RUNS} alternating pairs; python {sys.version.split()[0]}; memory: "
        "peak RSS of a fresh interpreter per function, AWS answered in-process, Lambda's runtime "
        "client not loaded; durations modelled from the CPU time measured here at the memory's "
        f"CPU share plus {aws_cost.AWS_REQUEST_MS} ms per AWS request and "
        f"{aws_cost.RUNPOD_REQUEST_MS} ms per RunPod request, stated; not counted: the state "
        "machine's own requests and transitions, which the user's workflow pays for whatever "
        "resumes it)"
    )
    return 0 if all(row[3] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
