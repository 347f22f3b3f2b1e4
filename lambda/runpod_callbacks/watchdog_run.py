"""One scheduled watchdog run: find PENDING records whose webhook is late and settle each one.

For each stale record (oldest first, from the ``status-created_at`` index, never a Scan):

- RunPod reports the job finished: deliver it as if the webhook had arrived (same claim, same
  outcome; a webhook arriving meanwhile is a duplicate). Metric RecoveredByWatchdog.
- RunPod no longer knows the job (404): the task fails with RunPod.JobLost. Metric JobLost.
- the job still runs: heartbeat the task; if Step Functions no longer waits, cancel the job once
  and mark the record EXPIRED. Metric OrphanJobCancelled.
- no job id or endpoint id on the record (own submitters): heartbeat only; a task that no longer
  waits leaves its record EXPIRED.

RunPod unavailable or rate-limited leaves the record for the next run; one failing record never
stops the others; the claim makes overlapping runs (and a racing webhook) safe. The API key is
read when the first record needs RunPod (a run with nothing to ask costs no secret read); a key
that cannot be read ends the run, as it would fail every record alike.
"""

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger

from runpod_callbacks.api_key import ApiKeyUnavailable
from runpod_callbacks.callback_records import iso_time
from runpod_callbacks.errors import DeliveryInFlight, TaskExpired
from runpod_callbacks.job_status import (
    RUNNING_STATUSES,
    JobStatus,
    lost_job,
    parse_job_status,
    redact,
)
from runpod_callbacks.result_delivery import ResultDelivery
from runpod_callbacks.runpod_api import RunPodApi, RunPodUnavailable
from runpod_callbacks.stale_records import StaleRecords, index_key
from runpod_callbacks.task_outcome import Decide, lost_job_outcome

logger = Logger(child=True)

# Stop taking records while this much of the function's time is left: one record's worst case
# (RunPod's answer, the delivery's bounded AWS calls, a cancel) fits in it.
SPARE_MS = 30_000
# Our share of RunPod's limits per endpoint per 10 s (/status 2,000, /cancel 100): half, so the
# caller's own calls still fit.
STATUS_CALLS_PER_10_S = 1_000
CANCEL_CALLS_PER_10_S = 50
NOT_WAITING = "Step Functions no longer waits for the task (stopped, timed out or failed)"


@dataclass
class Summary:
    checked: int = 0
    recovered: int = 0
    heartbeats: int = 0
    cancelled: int = 0
    lost: int = 0
    expired: int = 0
    skipped: int = 0
    errors: int = 0

    def add(self, count: str) -> None:
        setattr(self, count, getattr(self, count) + 1)

    def counts(self) -> dict[str, int]:
        return asdict(self)

    def line(self) -> str:
        return ", ".join(f"{name} {count}" for name, count in self.counts().items())


@dataclass(frozen=True)
class WatchdogSettings:
    stale_after_s: int = 60
    max_records: int = 500


class RateLimit:
    """At most ``limit`` calls per endpoint in each 10 s window of this run."""

    def __init__(self, limit: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = limit
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}

    def allow(self, endpoint_id: str) -> bool:
        now = self._clock()
        started, calls = self._windows.get(endpoint_id, (now, 0))
        if now - started >= 10:
            started, calls = now, 0
        if calls >= self._limit:
            return False
        self._windows[endpoint_id] = (started, calls + 1)
        return True


class WatchdogRun:
    def __init__(
        self,
        store: StaleRecords,
        delivery: ResultDelivery,
        runpod: RunPodApi,
        settings: WatchdogSettings,
        time_left_ms: Callable[[], int],
    ) -> None:
        self._store = store
        self._delivery = delivery
        self._runpod = runpod
        self._settings = settings
        self._time_left_ms = time_left_ms
        self._status_calls = RateLimit(STATUS_CALLS_PER_10_S)
        self._cancel_calls = RateLimit(CANCEL_CALLS_PER_10_S)

    def run(self) -> Summary:
        """Settle stale records, continuing where the last run stopped: with more of them than a
        run takes (long jobs stay PENDING while they run), every one is reached in turn."""
        summary = Summary()
        cutoff = datetime.now(UTC) - timedelta(seconds=self._settings.stale_after_s)
        created_before = iso_time(cutoff)  # as the submit function writes created_at
        try:
            start_after = self._store.watchdog_cursor()
            stopped_after = self._settle_stale(created_before, start_after, summary)
            if stopped_after != start_after:
                self._store.save_watchdog_cursor(stopped_after)
        except ApiKeyUnavailable as unavailable:  # the same for every record: try next run
            logger.error(f"Watchdog cannot ask RunPod: {unavailable}")
            summary.errors += 1
        except Exception:  # reading the index failed: the records wait for the next run
            logger.exception("Could not read the stale records")
            summary.errors += 1
        return summary

    def _settle_stale(
        self, created_before: str, start_after: dict[str, str] | None, summary: Summary
    ) -> dict[str, str] | None:
        """Settle records past ``start_after``; returns where the next run starts (None: the
        oldest, once this run reached the last stale record)."""
        limit = self._settings.max_records
        last: dict[str, str] | None = None
        for record in self._store.stale_pending(created_before, limit, start_after):
            if self._time_left_ms() < SPARE_MS:
                logger.info("Stopping early: the rest waits for the next run")
                return last or start_after
            summary.checked += 1
            summary.add(self._settle_safely(record))
            last = index_key(record)
        return last if summary.checked == limit else None

    def _settle_safely(self, record: dict[str, Any]) -> str:
        """The summary count this record adds to; a failure is counted, never raised."""
        try:
            return self._settle(record)
        except ApiKeyUnavailable:
            raise
        except Exception as error:  # one failing record never stops the others
            token = redact(str(record.get("callback_token", "")))
            logger.warning(f"Callback {token} not settled: {type(error).__name__}: {error}")
            return "errors"

    def _settle(self, record: dict[str, Any]) -> str:
        callback_token = str(record["callback_token"])
        job_id, endpoint_id = _text(record.get("job_id")), _text(record.get("endpoint_id"))
        if not (job_id and endpoint_id):
            return self._heartbeat_only(callback_token, record, job_id)
        if not self._status_calls.allow(endpoint_id):
            return "skipped"
        try:
            status_json = self._runpod.status(endpoint_id, job_id)
        except RunPodUnavailable as unavailable:  # 429, 5xx, timeouts: ask again next run
            logger.info(f"RunPod did not answer for job {job_id}: {unavailable}")
            return "skipped"
        if status_json is None:
            lost = lost_job_outcome(endpoint_id, _text(record.get("created_at")) or None)
            return self._deliver(callback_token, lost_job(job_id), lost, counted="lost")
        return self._settle_reported(callback_token, record, parse_job_status(status_json))

    def _settle_reported(self, callback_token: str, record: dict[str, Any], job: JobStatus) -> str:
        job_id, endpoint_id = job.job_id, _text(record.get("endpoint_id"))
        if job.finished:
            return self._deliver(callback_token, job, None, counted="recovered")
        if job.status in RUNNING_STATUSES:
            return self._still_running(callback_token, record, job_id, endpoint_id)
        logger.warning(f"RunPod reports job {job_id} as {job.status!r}")
        return "errors"

    def _deliver(
        self, callback_token: str, job: JobStatus, decide: Decide | None, counted: str
    ) -> str:
        try:
            delivered = self._delivery.deliver(callback_token, job, decide)
        except DeliveryInFlight:  # the webhook is delivering it right now
            return "skipped"
        except TaskExpired:
            return "expired"
        if delivered.metric_name == "DuplicateDelivery":
            return "skipped"
        logger.info(f"Watchdog settled job {job.job_id} ({delivered.message}): no webhook came")
        return counted

    def _still_running(
        self, callback_token: str, record: dict[str, Any], job_id: str, endpoint_id: str
    ) -> str:
        if self._delivery.task_waits(str(record["task_token"])):
            return "heartbeats"
        if not self._cancel_calls.allow(endpoint_id):
            return "skipped"
        try:
            cancelled = self._delivery.expire(
                callback_token,
                job_id,
                NOT_WAITING,
                cancel_job=lambda: self._runpod.cancel(endpoint_id, job_id),
            )
        except RunPodUnavailable:  # the record stays PENDING: the next run cancels
            return "skipped"
        if cancelled:
            logger.warning(f"Cancelled RunPod job {job_id}: nobody waits for its result")
        return "cancelled" if cancelled else "skipped"

    def _heartbeat_only(self, callback_token: str, record: dict[str, Any], job_id: str) -> str:
        if self._delivery.task_waits(str(record["task_token"])):
            return "heartbeats"
        expired = self._delivery.expire(callback_token, job_id, NOT_WAITING)
        return "expired" if expired else "skipped"


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
