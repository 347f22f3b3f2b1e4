"""Every metric the functions emit: EMF, namespace RunPodWebhook, dimension ``service``."""

import os
from enum import StrEnum


def namespace() -> str:
    """The metrics' namespace: Terraform sets it on every function (local.metrics_namespace)."""
    return os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "RunPodWebhook")


class Metric(StrEnum):
    # The webhook, one per answer (Count).
    TASK_SUCCEEDED = "TaskSucceeded"
    TASK_FAILED = "TaskFailed"
    DUPLICATE_DELIVERY = "DuplicateDelivery"
    DELIVERY_IN_FLIGHT = "DeliveryInFlight"
    JOB_ID_MISMATCH = "JobIdMismatch"
    RECORD_NOT_PENDING = "RecordNotPending"
    CORRUPT_RECORD = "CorruptRecord"
    UNKNOWN_CALLBACK = "UnknownCallback"
    UNKNOWN_ROUTE = "UnknownRoute"
    INVALID_WEBHOOK = "InvalidWebhook"
    TASK_EXPIRED = "TaskExpired"
    AWS_UNAVAILABLE = "AwsUnavailable"
    UNEXPECTED_ERROR = "UnexpectedError"
    # The webhook, RunPod's timings of the job it resumed (Milliseconds).
    RUNPOD_DELAY_TIME = "RunPodDelayTime"
    RUNPOD_EXECUTION_TIME = "RunPodExecutionTime"
    # The webhook and the watchdog, a job's estimated cost (USD, with endpoint_id besides service;
    # only with prices, GPU_PRICE_PER_SECOND).
    ESTIMATED_GPU_COST = "EstimatedGpuCost"
    # The submit function, one per invocation (Count); JobIdNotRecorded besides SubmitAccepted or
    # SubmitUncertain (RunPod may have accepted the job: the task waits for its webhook).
    SUBMIT_ACCEPTED = "SubmitAccepted"
    JOB_ID_NOT_RECORDED = "JobIdNotRecorded"
    INVALID_REQUEST = "InvalidRequest"
    SUBMIT_REJECTED = "SubmitRejected"
    SUBMIT_THROTTLED = "SubmitThrottled"
    SUBMIT_UNCERTAIN = "SubmitUncertain"
    SUBMIT_FAILED = "SubmitFailed"
    # The watchdog, per run, only when not zero (Count).
    RECOVERED_BY_WATCHDOG = "RecoveredByWatchdog"
    JOB_LOST = "JobLost"
    ORPHAN_JOB_CANCELLED = "OrphanJobCancelled"
    WATCHDOG_BEHIND = "WatchdogBehind"
    RUNPOD_UNANSWERED = "RunPodUnanswered"
    WATCHDOG_ERRORS = "WatchdogErrors"
    # The watchdog, per run, only when a stale record waits (Seconds).
    OLDEST_WAIT = "OldestWaitSeconds"
