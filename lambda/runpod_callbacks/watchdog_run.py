"""One scheduled watchdog run: find PENDING records whose webhook is late and settle each one.

For each stale record (from the ``pending_shard-created_at`` index, never a Scan):

- RunPod reports the job ended: deliver it as if the webhook had arrived (same claim, same
  outcome; a webhook arriving meanwhile is a duplicate). Counted ``recovered``.
- RunPod no longer knows the job (404): the task fails with RunPod.JobLost (``lost``).
- RunPod does not answer (429, 5xx, timeouts): asked again next run (``unanswered``).
- RunPod's answer cannot be read (not UTF-8, not a job-status object): the task fails with
  RunPod.InvalidOutput, as the same answer would come on every run.
- the job still runs: heartbeat the task; if Step Functions no longer waits, cancel the job once
  and mark the record EXPIRED (``cancelled``).
- no job id (RunPod's answer to /run was lost, or storing the id failed): heartbeat the task until
  RunPod can no longer answer for the job (``runpod_forgets_at``), then fail it with
  RunPod.JobLost; no endpoint id (own submitters): heartbeat only. A task that no longer waits
  leaves its record EXPIRED.

Records are settled in parallel, one lane of workers per RunPod endpoint, each paced under our
share of that endpoint's limits; heartbeats are paced for the account. A run takes records in
index order from where the last one stopped, wrapping around to the oldest, so each is reached
in turn whatever their number; those it could not reach (time, ``max_records``) are counted
``behind`` and come first next run; one failing record never stops the others; the claim makes
overlapping runs (and a racing webhook) safe. The API key is read once, and only when a record
needs RunPod; a key that cannot be read leaves those records for the next run, and the others
are settled.
"""

import contextlib
import itertools
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any, NamedTuple

from aws_lambda_powertools import Logger

from runpod_callbacks.callback_records import Refused
from runpod_callbacks.errors import (
    AnswerTooLarge,
    ApiKeyUnavailable,
    DeliveryInFlight,
    InvalidWebhook,
    RunPodUnavailable,
    TaskError,
    TaskExpired,
)
from runpod_callbacks.job_cancel import Cancelled, cancel_and_expire
from runpod_callbacks.job_logs import about_job, log_outcome, redact, scrub
from runpod_callbacks.job_status import (
    RUNNING_STATUSES,
    JobStatus,
    lost_job,
    parse_job_status,
)
from runpod_callbacks.pacing import CallLimit, RunPodLimits
from runpod_callbacks.record_table import from_iso_time, iso_time
from runpod_callbacks.result_delivery import ResultDelivery, Resumed
from runpod_callbacks.runpod_api import MAX_STATUS_BYTES, RunPodApi
from runpod_callbacks.stale_records import IndexKey, StaleRecords, index_key
from runpod_callbacks.step_functions import Heartbeat
from runpod_callbacks.task_outcome import Decide, job_ended_outcome

logger = Logger(child=True)

# Stop starting records while this much of the function's time is left: the records in flight
# then finish (RunPod's answer and a /health, 5 s each; the delivery's bounded AWS calls).
SPARE_MS = 30_000
# SendTaskHeartbeat is a bucket of 1,500 refilled at 300 a second per account in most regions
# (3,000 and 500 in the largest): the watchdog keeps under the smaller refill.
HEARTBEATS_PER_SECOND = 250
# Workers per endpoint: twice what pacing.STATUS_PER_SECOND needs at RunPod's slowest usual round
# trip (300 ms), as the heartbeat and the CPU take about as long again.
WORKERS_PER_ENDPOINT = 96
# Lambda allows 1,024 threads: with many endpoints, each lane gets its share of these.
MAX_WORKERS = 480
# The records not reached are counted (for WatchdogBehind) up to this many, for at most this long.
BEHIND_COUNT_LIMIT = 100_000
BEHIND_COUNT_SECONDS = 10
# /status answers up to this size are read by every worker at once; a larger one (up to
# runpod_api.MAX_STATUS_BYTES) is read again, and settled, one at a time. Every worker holding
# one stays within the function's memory.
PARALLEL_ANSWER_BYTES = 256 * 1024
EXPIRED_REASON = "Step Functions no longer waits for the task (stopped, timed out or failed)"


class Settled(Enum):
    """What a run did with one stale record; its value names its count in the run's summary."""

    RECOVERED = "recovered"
    ALREADY_RESUMED = "already_resumed"
    HEARTBEAT = "heartbeats"
    CANCELLED = "cancelled"
    LOST = "lost"
    FAILED = "failed"
    EXPIRED = "expired"
    SKIPPED = "skipped"
    UNANSWERED = "unanswered"
    """RunPod did not answer /status (429, 5xx, timeouts): its task was not heartbeated; asked
    again next run."""
    ERROR = "errors"
    BEHIND = "behind"
    """Not reached: the next run starts with it."""


class Summary:
    """How many stale records a run settled each way; how long the oldest has waited; the GPU
    cost of the jobs it settled, by endpoint (with prices, job_cost)."""

    def __init__(self, settled: Counter[Settled] | None = None) -> None:
        self._settled: Counter[Settled] = settled or Counter()
        self.oldest_wait_s: float | None = None
        """How long the oldest stale record has waited since it was created (None: none)."""
        self.gpu_cost_usd: dict[str, Decimal] = {}

    def __getitem__(self, kind: Settled) -> int:
        return self._settled[kind]

    def add(self, kind: Settled, count: int = 1) -> None:
        self._settled[kind] += count

    @property
    def checked(self) -> int:
        return self._settled.total() - self[Settled.BEHIND]

    def counts(self) -> dict[str, int]:
        return {"checked": self.checked} | {kind.value: self[kind] for kind in Settled}

    def line(self) -> str:
        return ", ".join(f"{name} {count}" for name, count in self.counts().items())


@dataclass(frozen=True)
class WatchdogSettings:
    stale_after_s: int = 60
    max_records: int = 25_000


class _Taken(NamedTuple):
    key: IndexKey
    settled: "Future[Settled]"


def utc_now() -> datetime:
    return datetime.now(UTC)


class WatchdogRun:
    def __init__(
        self,
        store: StaleRecords,
        delivery: ResultDelivery,
        runpod: RunPodApi,
        *,
        read_api_key: Callable[[], object],
        settings: WatchdogSettings,
        time_left_ms: Callable[[], int],
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self._store = store
        self._delivery = delivery
        self._runpod = runpod
        self._read_api_key = read_api_key
        self._settings = settings
        self._now = now or utc_now
        self._deadline = time.monotonic() + (time_left_ms() - SPARE_MS) / 1000
        self._heartbeats = CallLimit(
            HEARTBEATS_PER_SECOND, burst=HEARTBEATS_PER_SECOND, at_once=10 * WORKERS_PER_ENDPOINT
        )
        self._runpod_limits = RunPodLimits(status_at_once=WORKERS_PER_ENDPOINT)
        self._one_large_answer = threading.Lock()
        self._lock = threading.Lock()
        self._gpu_cost_usd: defaultdict[str, Decimal] = defaultdict(Decimal)

    def run(self) -> Summary:
        """Settle the stale records, starting where the last run stopped."""
        now = self._now()
        created_before = iso_time(now - timedelta(seconds=self._settings.stale_after_s))
        try:
            start_at = self._store.cursor()
        except Exception:  # the records wait for the next run
            logger.exception("Could not read where the last watchdog run stopped")
            return Summary(Counter({Settled.ERROR: 1}))
        if start_at is not None and start_at.created_at >= created_before:
            start_at = None  # the threshold moved back past it (stale_after_s was raised)
        stream = self._stream(created_before, start_at)
        records, read_whole = self._take(stream)
        taken, key_readable = self._settle_all(records, now)
        untaken = self._count_behind(stream) if read_whole else []
        summary = Summary(Counter(entry.settled.result() for entry in taken))
        summary.add(Settled.ERROR, int(not read_whole) + int(not key_readable))
        summary.add(Settled.BEHIND, len(untaken))
        unreached = [entry.key for entry in taken if entry.settled.result() is Settled.BEHIND]
        if read_whole or unreached:
            next_start = (unreached + untaken + [None])[0]
            if next_start != start_at:
                self._save_cursor(next_start, summary)
        created = [entry.key.created_at for entry in taken] + [key.created_at for key in untaken]
        with contextlib.suppress(ValueError):  # an own submitter's created_at may not be ISO 8601
            summary.oldest_wait_s = (now - from_iso_time(min(created))).total_seconds()
        summary.gpu_cost_usd = dict(self._gpu_cost_usd)
        if summary[Settled.BEHIND]:
            logger.warning(
                f"{summary[Settled.BEHIND]} stale records not reached this run; the next run"
                " starts with them"
            )
        return summary

    def _stream(self, created_before: str, start_at: IndexKey | None) -> Iterator[dict[str, Any]]:
        """The stale records from ``start_at`` on, then from the oldest up to it."""
        yield from self._store.stale_pending(created_before, start_at=start_at)
        if start_at is not None:
            yield from self._store.stale_pending(created_before, stop_before=start_at)

    def _take(self, stream: Iterator[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
        """This run's records, up to max_records; False when the index could not be read to the
        end of them (the records read are settled all the same)."""
        records: list[dict[str, Any]] = []
        try:
            records.extend(itertools.islice(stream, self._settings.max_records))
        except Exception:
            logger.exception(f"Could not read the stale records past the first {len(records)}")
            return records, False
        return records, True

    def _settle_all(
        self, records: list[dict[str, Any]], now: datetime
    ) -> tuple[list[_Taken], bool]:
        """Settle each record on its endpoint's lane and wait for them all; in this run's order.
        Without the API key (read once, and only if a record needs RunPod) the records that need
        RunPod are left for the next run; the others are settled. False: the key was unreadable.
        """
        key_readable = not any(map(_asks_runpod, records)) or self._api_key_readable()
        lane_names = {_text(record.get("endpoint_id")) for record in records}
        workers = lane_workers(len(lane_names))
        lanes = {
            name: ThreadPoolExecutor(workers, thread_name_prefix=f"watchdog-{name or 'sfn'}")
            for name in lane_names
        }
        taken: list[_Taken] = []
        try:
            for record in records:
                if key_readable or not _asks_runpod(record):
                    lane = lanes[_text(record.get("endpoint_id"))]
                    settled = lane.submit(self._settle_safely, record, now)
                else:
                    settled = Future()
                    settled.set_result(Settled.BEHIND)
                taken.append(_Taken(index_key(record), settled))
        finally:
            for lane in lanes.values():
                lane.shutdown(wait=True)
        return taken, key_readable

    def _api_key_readable(self) -> bool:
        try:
            self._read_api_key()
        except ApiKeyUnavailable as unavailable:  # the same for every record
            logger.error(f"Watchdog cannot ask RunPod: {unavailable}")
            return False
        return True

    def _count_behind(self, rest: Iterator[dict[str, Any]]) -> list[IndexKey]:
        """The records this run did not take, up to a bound of number and time; unreadable, as
        many as were read."""
        behind: list[IndexKey] = []
        stop_at = self._deadline + BEHIND_COUNT_SECONDS
        with contextlib.suppress(Exception):
            for record in itertools.islice(rest, BEHIND_COUNT_LIMIT):
                behind.append(index_key(record))
                if time.monotonic() >= stop_at:
                    break
        return behind

    def _save_cursor(self, next_start: IndexKey | None, summary: Summary) -> None:
        try:
            self._store.save_cursor(next_start)
        except Exception:  # the next run starts where this one did: records are settled again
            logger.exception("Could not save where the watchdog run stopped")
            summary.add(Settled.ERROR)

    def _settle_safely(self, record: dict[str, Any], now: datetime) -> Settled:
        """What became of the record; a failure is counted, never raised."""
        if time.monotonic() >= self._deadline:
            return Settled.BEHIND
        token = str(record.get("callback_token", ""))
        job_id, endpoint_id = _text(record.get("job_id")), _text(record.get("endpoint_id"))
        with about_job(token, job_id, endpoint_id):
            try:
                return self._settle(record, now)
            except Exception as error:  # one failing record never stops the others
                reason = scrub(f"{type(error).__name__}: {error}", token)
                log_outcome(
                    f"Callback {redact(token)} not settled: {reason}",
                    Settled.ERROR.value,
                    warning=True,
                )
                return Settled.ERROR

    def _settle(self, record: dict[str, Any], now: datetime) -> Settled:
        callback_token = str(record["callback_token"])
        job_id, endpoint_id = _text(record.get("job_id")), _text(record.get("endpoint_id"))
        if not endpoint_id:
            return self._heartbeat(callback_token, record, job_id, endpoint_id="")
        if not job_id:
            return self._await_job_id(callback_token, record, now)
        try:
            answer = self._ask(callback_token, job_id, endpoint_id, PARALLEL_ANSWER_BYTES)
        except AnswerTooLarge:
            with self._one_large_answer:  # a few of these in parallel would exhaust the memory
                try:
                    answer = self._ask(callback_token, job_id, endpoint_id, MAX_STATUS_BYTES)
                except AnswerTooLarge as too_large:
                    error = TaskError.OUTPUT_TOO_LARGE
                    return self._end(callback_token, job_id, error, str(too_large))
                return self._settle_answer(callback_token, record, answer, job_id, endpoint_id)
        return self._settle_answer(callback_token, record, answer, job_id, endpoint_id)

    def _ask(
        self, callback_token: str, job_id: str, endpoint_id: str, max_bytes: int
    ) -> bytes | Settled | None:
        """RunPod's /status answer (None: RunPod does not know the job), paced; UNANSWERED when
        RunPod did not answer, BEHIND when the run's time is up. Raises AnswerTooLarge."""
        with self._runpod_limits.status(endpoint_id).call(self._deadline) as may_call:
            if not may_call:
                return Settled.BEHIND
            try:
                return self._runpod.status(endpoint_id, job_id, max_bytes=max_bytes)
            except RunPodUnavailable as unavailable:  # 429, 5xx, timeouts: ask again next run
                reason = scrub(str(unavailable), callback_token)
                logger.info(f"RunPod did not answer for job {job_id}: {reason}")
                return Settled.UNANSWERED

    def _settle_answer(
        self,
        callback_token: str,
        record: dict[str, Any],
        answer: bytes | Settled | None,
        job_id: str,
        endpoint_id: str,
    ) -> Settled:
        if isinstance(answer, Settled):
            return answer
        if answer is None:
            submitted_at = _text(record.get("created_at")) or None
            message = _lost_message(job_id, endpoint_id, submitted_at)
            details = {"endpoint_id": endpoint_id, "submitted_at": submitted_at}
            return self._end(callback_token, job_id, TaskError.JOB_LOST, message, **details)
        try:
            job = parse_job_status(answer.decode("utf-8"), job_id=job_id)
        except (UnicodeDecodeError, InvalidWebhook) as unreadable:
            reason = f"RunPod's /status answer for job {job_id} cannot be read: {unreadable}"
            return self._end(callback_token, job_id, TaskError.INVALID_OUTPUT, reason)
        if job.ended:
            return self._deliver(callback_token, job, None, Settled.RECOVERED)
        if job.status in RUNNING_STATUSES:
            return self._heartbeat(callback_token, record, job_id, endpoint_id)
        logger.warning(f"RunPod reports job {job_id} as {scrub(job.status, callback_token)!r}")
        return Settled.ERROR

    def _end(
        self,
        callback_token: str,
        job_id: str,
        error: TaskError,
        message: str,
        **details: str | None,
    ) -> Settled:
        """Fail the task with a typed error: its job's result can never come."""
        counted = Settled.LOST if error is TaskError.JOB_LOST else Settled.FAILED
        ended = job_ended_outcome(error, message, **details)
        return self._deliver(callback_token, lost_job(job_id), ended, counted)

    def _await_job_id(self, callback_token: str, record: dict[str, Any], now: datetime) -> Settled:
        """A job RunPod accepted whose id was never stored: only its webhook can settle it, until
        RunPod can no longer answer for it."""
        forgets_at = _text(record.get("runpod_forgets_at"))
        if not forgets_at or iso_time(now) < forgets_at:
            return self._heartbeat(callback_token, record, "", endpoint_id="")
        message = (
            "The job's id was never stored (RunPod's answer to /run was lost, or storing it"
            " failed) and no webhook came; RunPod would no longer answer for the job"
            f" (since {forgets_at})"
        )
        return self._end(callback_token, "", TaskError.JOB_LOST, message)

    def _deliver(
        self, callback_token: str, job: JobStatus, decide: Decide | None, counted: Settled
    ) -> Settled:
        delivered = self._delivery.deliver(callback_token, job, decide)
        match delivered:
            case Refused(why=DeliveryInFlight()):  # the webhook is delivering it right now
                return Settled.SKIPPED
            case Refused(why=TaskExpired()):
                return Settled.EXPIRED
            case Refused(why=why):  # the record cannot be delivered to: counted an error
                raise why
        if delivered.resumed is Resumed.ALREADY:
            return Settled.SKIPPED
        if delivered.estimated_cost_usd is not None and delivered.endpoint_id:
            with self._lock:
                self._gpu_cost_usd[delivered.endpoint_id] += delivered.estimated_cost_usd
        if delivered.resumed is Resumed.EARLIER:
            return Settled.ALREADY_RESUMED
        log_outcome(
            f"Watchdog settled job {job.job_id} ({delivered.message}): no webhook came",
            counted.value,
        )
        return counted

    def _heartbeat(
        self, callback_token: str, record: dict[str, Any], job_id: str, endpoint_id: str
    ) -> Settled:
        """Heartbeat the task; if nobody waits for it, cancel its job (when there is one to
        cancel) and mark the record EXPIRED."""
        with self._heartbeats.call(self._deadline) as may_call:
            if not may_call:
                return Settled.BEHIND
            beat = self._delivery.heartbeat(str(record["task_token"]))
        if beat is Heartbeat.WAITS:
            return Settled.HEARTBEAT
        if beat is Heartbeat.UNKNOWN:
            logger.warning(f"Heartbeat of callback {redact(callback_token)} failed")
            return Settled.ERROR
        if not endpoint_id:
            expired = self._delivery.expire(callback_token, job_id, EXPIRED_REASON)
            return Settled.EXPIRED if expired else Settled.SKIPPED
        return self._cancel(callback_token, job_id, endpoint_id)

    def _cancel(self, callback_token: str, job_id: str, endpoint_id: str) -> Settled:
        cancelled = cancel_and_expire(
            self._delivery,
            self._runpod,
            self._runpod_limits,
            callback_token=callback_token,
            job_id=job_id,
            endpoint_id=endpoint_id,
            reason=EXPIRED_REASON,
            deadline=self._deadline,
        )
        if cancelled is Cancelled.NO_TIME:
            return Settled.BEHIND
        if cancelled is not Cancelled.YES:  # the record stays for the next run, or is not ours
            return Settled.SKIPPED
        message = f"Cancelled RunPod job {job_id}: nobody waits for its result"
        log_outcome(message, Settled.CANCELLED.value, warning=True)
        return Settled.CANCELLED


def lane_workers(lanes: int) -> int:
    """Workers per endpoint's lane: WORKERS_PER_ENDPOINT, fewer when many lanes share
    MAX_WORKERS."""
    return max(1, min(WORKERS_PER_ENDPOINT, MAX_WORKERS // max(lanes, 1)))


def _asks_runpod(record: dict[str, Any]) -> bool:
    return bool(_text(record.get("job_id")) and _text(record.get("endpoint_id")))


def _lost_message(job_id: str, endpoint_id: str, submitted_at: str | None) -> str:
    return (
        f"RunPod no longer knows job {job_id} on endpoint {endpoint_id} (submitted"
        f" {submitted_at or 'at an unknown time'}): its ttl ran out, or its result expired"
        " before anyone fetched it"
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
