"""Cancel the RunPod job of a task nobody waits for, and mark its record EXPIRED: the watchdog
when a heartbeat finds the task expired, the canceller when Step Functions says its execution
stopped. One claim decides, as for every delivery: a job whose result is being delivered is
left alone, none is cancelled twice."""

from enum import Enum

from runpod_callbacks.errors import RunPodUnavailable
from runpod_callbacks.pacing import RunPodLimits
from runpod_callbacks.result_delivery import ResultDelivery
from runpod_callbacks.runpod_api import RunPodApi


class Cancelled(Enum):
    YES = "cancelled"
    NOT_OURS = "not ours"
    """The record finished, is being delivered, or may have been delivered: nothing changed."""
    RUNPOD_UNAVAILABLE = "runpod unavailable"
    """RunPod did not answer: the record stays PENDING for the next try."""
    NO_TIME = "no time"
    """The deadline came first: the record stays PENDING for the next try."""


def cancel_and_expire(
    delivery: ResultDelivery,
    runpod: RunPodApi,
    limits: RunPodLimits,
    *,
    callback_token: str,
    job_id: str,
    endpoint_id: str,
    reason: str,
    deadline: float,
) -> Cancelled:
    """Paced under our share of RunPod's /cancel limits until ``deadline`` (a time.monotonic()
    time)."""
    with limits.cancel(endpoint_id).call(deadline) as may_call:
        if not may_call:
            return Cancelled.NO_TIME
        try:
            expired = delivery.expire(
                callback_token,
                job_id,
                reason,
                cancel_job=lambda: runpod.cancel(endpoint_id, job_id),
            )
        except RunPodUnavailable:
            return Cancelled.RUNPOD_UNAVAILABLE
    return Cancelled.YES if expired else Cancelled.NOT_OURS
