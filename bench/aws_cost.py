"""What the module costs at AWS list prices, from the counts `make bench` measures.

Every price is US East (N. Virginia), on-demand, free tiers left out, as the AWS pricing pages
named beside it list it. Checked on 2026-11-30 against stored copies of those pages (this machine
has no live web access): check them again before quoting a figure. A GB is taken as 2**30 bytes.
"""

import json
import math
from dataclasses import dataclass

GIB = 2**30
DAYS_PER_MONTH = 365.25 / 12

# https://aws.amazon.com/lambda/pricing/ : $0.20 per 1M requests; Arm duration $0.0000133334 per
# GB-second (first 7.5 billion GB-seconds a month); duration rounded up to the millisecond. The
# INIT phase of ZIP functions on managed runtimes is billed too since 2025-08-01 (AWS Compute
# Blog, "AWS Lambda standardizes billing for INIT Phase").
LAMBDA_PER_REQUEST = 0.20 / 1e6
LAMBDA_ARM_PER_GB_SECOND = 0.0000133334
# https://aws.amazon.com/api-gateway/pricing/ : REST APIs $3.50 per million requests (first 333
# million a month).
API_GATEWAY_REST_PER_REQUEST = 3.50 / 1e6
# https://aws.amazon.com/dynamodb/pricing/on-demand/ : $0.625 per million write request units,
# $0.125 per million read request units (the prices since the cut of 2024-11-01); storage $0.25
# per GB-month (first 25 GB free).
DYNAMODB_PER_WRU = 0.625 / 1e6
DYNAMODB_PER_RRU = 0.125 / 1e6
DYNAMODB_PER_GB_MONTH = 0.25
# DynamoDB bills each stored item and each index entry 100 bytes more than its data
# (CapacityUnitCalculations.html; GSI.html, "Storage Considerations").
DYNAMODB_ITEM_OVERHEAD_BYTES = 100
# https://aws.amazon.com/step-functions/pricing/ : Standard workflows bill state transitions only
# ($0.025 per 1,000); SendTaskSuccess, SendTaskFailure and SendTaskHeartbeat are API calls,
# not transitions, and cost nothing. The workflow's own transitions are the user's either way.
STEP_FUNCTIONS_PER_SEND_TASK = 0.0
# https://aws.amazon.com/secrets-manager/pricing/ : $0.40 per secret-month, $0.05 per 10,000 API
# calls.
SECRETS_MANAGER_PER_CALL = 0.05 / 10_000
SECRETS_MANAGER_PER_SECRET_MONTH = 0.40
# https://aws.amazon.com/kms/pricing/ : $0.03 per 10,000 requests (20,000 free a month); Secrets
# Manager decrypts the secret's data key with KMS on every read (Secrets Manager User Guide,
# "Secret encryption and decryption"), also with the AWS managed key aws/secretsmanager.
KMS_PER_REQUEST = 0.03 / 10_000
# https://aws.amazon.com/cloudwatch/pricing/ : Logs ingestion $0.50 per GB (Standard class),
# storage $0.03 per GB-month; custom metrics $0.30 per metric-month (first 10,000), prorated by
# the hour: a metric costs only in the hours it receives data.
LOGS_PER_GB_INGESTED = 0.50
LOGS_PER_GB_MONTH = 0.03
METRIC_PER_MONTH = 0.30
# Same page: a dashboard $3.00 a month beyond an account's first three (which are free); a
# standard-resolution alarm $0.10 a month; saved Logs Insights query definitions are free (the
# queries run are billed per GB scanned, $0.005, when someone runs them).
DASHBOARD_PER_MONTH = 3.00
ALARM_PER_MONTH = 0.10
# https://aws.amazon.com/eventbridge/pricing/ : events published by AWS services (Step Functions'
# execution status changes, which the canceller's rule matches) are free to a rule's targets.
AWS_SERVICE_EVENTS = 0.0
# https://aws.amazon.com/eventbridge/pricing/ : Scheduler $1.00 per million invocations (14
# million free a month).
SCHEDULER_PER_INVOCATION = 1.00 / 1e6

# Lambda gives a function CPU in proportion to its memory: "At 1,769 MB, a function has the
# equivalent of one vCPU" (Lambda Developer Guide, configuration-memory.html).
ONE_VCPU_MB = 1769


@dataclass(frozen=True)
class Invocation:
    """One invocation of a function, as Lambda bills it."""

    memory_mb: int
    duration_ms: float


def cpu_share(memory_mb: int) -> float:
    """The part of one vCPU a function of this memory gets."""
    return min(1.0, memory_mb / ONE_VCPU_MB)


def billed_ms(cpu_ms_one_vcpu: float, waiting_ms: float, memory_mb: int) -> int:
    """A duration: CPU work that takes ``cpu_ms_one_vcpu`` on a whole vCPU, slowed to the
    memory's share, plus time spent waiting on the network, rounded up to the millisecond."""
    return math.ceil(cpu_ms_one_vcpu / cpu_share(memory_mb) + waiting_ms)


def lambda_cost(invocation: Invocation, count: float = 1) -> float:
    """Requests and duration (arm64)."""
    gb_seconds = invocation.memory_mb / 1024 * invocation.duration_ms / 1000
    return count * (LAMBDA_PER_REQUEST + gb_seconds * LAMBDA_ARM_PER_GB_SECOND)


def lambda_duration_cost(invocation: Invocation, count: float = 1) -> float:
    """Duration alone: an INIT phase is billed as duration, with no request of its own."""
    return lambda_cost(invocation, count) - count * LAMBDA_PER_REQUEST


def dynamodb_storage_cost(stored_bytes: float, days: float) -> float:
    """Items (and index entries) of ``stored_bytes`` of data each, kept ``days``."""
    return (
        (stored_bytes + DYNAMODB_ITEM_OVERHEAD_BYTES)
        / GIB
        * DYNAMODB_PER_GB_MONTH
        * (days / DAYS_PER_MONTH)
    )


def logs_cost(log_bytes: float, retention_days: float) -> float:
    """Ingesting log events of ``log_bytes`` and keeping them ``retention_days``."""
    gigabytes = log_bytes / GIB
    return gigabytes * (LOGS_PER_GB_INGESTED + LOGS_PER_GB_MONTH * retention_days / DAYS_PER_MONTH)


# What the bench cannot measure here, stated. A same-region AWS API round trip and RunPod's /run
# over the internet: nothing on this machine measures AWS's or RunPod's latency.
AWS_REQUEST_MS = 10
RUNPOD_REQUEST_MS = 300
# "INITs (cold starts) typically occur in under 1% of invocations" (AWS Compute Blog, "AWS Lambda
# standardizes billing for INIT Phase", 2025). A job every quarter hour or less often makes nearly
# every invocation a cold start instead.
COLD_START_SHARE = 0.01
# Records live 7 days (the submit function's record_lifetime_s); logs 30 (logs_retention_in_days).
RECORD_DAYS = 7
LOG_RETENTION_DAYS = 30
# The watchdog's schedule, rate(2 minutes).
WATCHDOG_RUNS_PER_DAY = 720
# The API key is cached 5 minutes per instance: at most one read per submit (jobs further apart,
# or each on a new instance); bursts share them. A watchdog run reads it only when a record needs
# RunPod (measured: ScheduleUsage.secret_reads).
SECRET_READS_PER_SUBMIT = 1
# CloudWatch Logs lines the bench does not see, one example of each: Lambda's platform lines per
# invocation (text format, the module's default) and the stage's access log line per webhook
# (the format in api_gateway.tf).
LAMBDA_PLATFORM_LINES = (
    "START RequestId: 6f2c1a5e-4b7d-4f0e-9a51-2c3d4e5f6a7b Version: $LATEST",
    "END RequestId: 6f2c1a5e-4b7d-4f0e-9a51-2c3d4e5f6a7b",
    "REPORT RequestId: 6f2c1a5e-4b7d-4f0e-9a51-2c3d4e5f6a7b\tDuration: 57.12 ms\t"
    "Billed Duration: 58 ms\tMemory Size: 256 MB\tMax Memory Used: 61 MB\t",
)
API_ACCESS_LOG_LINE = json.dumps(
    {
        "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
        "requestTime": "30/Nov/2026:07:56:55 +0000",
        "sourceIp": "203.0.113.10",
        "httpMethod": "POST",
        "resourcePath": "/webhook/{callback_token}",
        "status": "200",
        "responseLength": "48",
        "integrationStatus": "200",
        "integrationLatency": "57",
        "errorMessage": "-",
    },
    separators=(",", ":"),
)
LAMBDA_PLATFORM_LOG_BYTES = sum(len(line) for line in LAMBDA_PLATFORM_LINES)


@dataclass(frozen=True)
class JobUsage:
    """What one job asks of AWS through the module: the submit function and the webhook."""

    invocations: tuple[Invocation, ...]
    init: tuple[Invocation, ...]
    """The INIT phase of each of those functions, billed on a cold start."""
    webhook_requests: int
    send_task_calls: int
    write_units: float
    stored_bytes: tuple[int, ...]
    """The record and its index entry, as they stay until the record's ttl."""
    function_log_bytes: int


@dataclass(frozen=True)
class ScheduleUsage:
    """One scheduled watchdog run that finds nothing to do."""

    invocation: Invocation
    read_units: float
    secret_reads: int
    function_log_bytes: int


def job_costs(usage: JobUsage, jobs: int = 1000) -> dict[str, float]:
    """The cost of ``jobs`` jobs, part by part, in USD."""
    log_bytes = (
        usage.function_log_bytes
        + len(usage.invocations) * LAMBDA_PLATFORM_LOG_BYTES
        + usage.webhook_requests * len(API_ACCESS_LOG_LINE)
    )
    return {
        "Lambda requests + duration": jobs * sum(lambda_cost(i) for i in usage.invocations),
        "Lambda INIT (cold starts)": jobs
        * sum(lambda_duration_cost(i, COLD_START_SHARE) for i in usage.init),
        "API Gateway REST requests": jobs * usage.webhook_requests * API_GATEWAY_REST_PER_REQUEST,
        "DynamoDB writes": jobs * usage.write_units * DYNAMODB_PER_WRU,
        "DynamoDB storage (7 days)": jobs
        * sum(dynamodb_storage_cost(size, RECORD_DAYS) for size in usage.stored_bytes),
        "Secrets Manager reads": jobs * SECRET_READS_PER_SUBMIT * SECRETS_MANAGER_PER_CALL,
        "KMS decrypts (by Secrets Manager)": jobs * SECRET_READS_PER_SUBMIT * KMS_PER_REQUEST,
        "CloudWatch Logs": jobs * logs_cost(log_bytes, LOG_RETENTION_DAYS),
        "Step Functions SendTask*": jobs * usage.send_task_calls * STEP_FUNCTIONS_PER_SEND_TASK,
    }


def schedule_costs(run: ScheduleUsage, runs: int = WATCHDOG_RUNS_PER_DAY) -> dict[str, float]:
    """The watchdog's schedule, whatever the number of jobs: ``runs`` runs, in USD."""
    log_bytes = run.function_log_bytes + LAMBDA_PLATFORM_LOG_BYTES
    reads = runs * run.secret_reads
    return {
        "EventBridge Scheduler": runs * SCHEDULER_PER_INVOCATION,
        "Lambda requests + duration": lambda_cost(run.invocation, runs),
        "DynamoDB index reads": runs * run.read_units * DYNAMODB_PER_RRU,
        "Secrets Manager reads + KMS": reads * (SECRETS_MANAGER_PER_CALL + KMS_PER_REQUEST),
        "CloudWatch Logs": runs * logs_cost(log_bytes, LOG_RETENTION_DAYS),
    }


def monthly_costs(metrics_every_hour: int) -> dict[str, float]:
    """What a month costs whatever the number of jobs, in USD, with the module's defaults."""
    return {
        "Secrets Manager secret (the API key)": SECRETS_MANAGER_PER_SECRET_MONTH,
        "custom metrics with data every hour": metrics_every_hour * METRIC_PER_MONTH,
        "dashboard (free if the account has fewer than 3 others)": DASHBOARD_PER_MONTH,
        "saved Logs Insights queries": 0.0,
        "the canceller's event rule (AWS service events)": AWS_SERVICE_EVENTS,
    }


def alarms_per_month(alarm_count: int) -> float:
    """The alarms `alarms.enabled` creates (off by default)."""
    return alarm_count * ALARM_PER_MONTH
