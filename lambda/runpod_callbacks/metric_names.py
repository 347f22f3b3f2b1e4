"""Every metric the functions emit: EMF, namespace RunPodWebhook, dimension ``service``."""

from enum import StrEnum


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
    # The submit function, one per invocation (Count); JobIdNotRecorded besides SubmitAccepted.
    SUBMIT_ACCEPTED = "SubmitAccepted"
    JOB_ID_NOT_RECORDED = "JobIdNotRecorded"
    INVALID_REQUEST = "InvalidRequest"
    SUBMIT_REJECTED = "SubmitRejected"
    SUBMIT_THROTTLED = "SubmitThrottled"
    SUBMIT_FAILED = "SubmitFailed"
    # The watchdog, per run, only when not zero (Count).
    RECOVERED_BY_WATCHDOG = "RecoveredByWatchdog"
    JOB_LOST = "JobLost"
    ORPHAN_JOB_CANCELLED = "OrphanJobCancelled"
    WATCHDOG_BEHIND = "WatchdogBehind"
