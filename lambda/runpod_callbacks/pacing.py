"""Pacing shared by threads: at most so many calls a second, and so many at once."""

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

Clock = Callable[[], float]


class CallLimit:
    """A token bucket (``per_second`` on average, ``burst`` at once after a pause) and at most
    ``at_once`` calls in flight. Waiters are served in the order they asked."""

    def __init__(
        self,
        per_second: float,
        *,
        burst: float,
        at_once: int,
        clock: Clock = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._per_second = per_second
        self._burst = burst
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = burst
        self._refilled_at = clock()
        self._in_flight = threading.BoundedSemaphore(at_once)

    @contextmanager
    def call(self, deadline: float) -> Iterator[bool]:
        """Yields True once a call may start, False (at once) if it could not start by the
        deadline (a ``clock()`` time)."""
        if not self._take_token(deadline):
            yield False
            return
        if not self._in_flight.acquire(timeout=max(0.0, deadline - self._clock())):
            yield False
            return
        try:
            yield True
        finally:
            self._in_flight.release()

    def _take_token(self, deadline: float) -> bool:
        with self._lock:
            now = self._clock()
            elapsed = now - self._refilled_at
            self._tokens = min(self._burst, self._tokens + elapsed * self._per_second)
            self._refilled_at = now
            wait = max(0.0, (1 - self._tokens) / self._per_second)
            if now + wait > deadline:
                return False
            self._tokens -= 1  # taken now, usable after the wait: later callers queue behind
        if wait:
            self._sleep(wait)
        return True


# RunPod's limits per endpoint: /status 2,000 per 10 s and 400 at once; /cancel 100 per 10 s and
# 20 at once. /status is the watchdog's alone: 80% of it lets one run reach 10,000 records in 90 s
# and leaves the caller's own calls 40 a second. /cancel, shared by the watchdog and the canceller
# (which run apart), is kept to 60%.
STATUS_PER_SECOND = 160
CANCEL_PER_SECOND = 3
CANCEL_AT_ONCE = 6


class RunPodLimits:
    """Each endpoint's pacing, made when first asked for; shared by a process's threads."""

    def __init__(self, status_at_once: int) -> None:
        self._status_at_once = status_at_once
        self._status: dict[str, CallLimit] = {}
        self._cancel: dict[str, CallLimit] = {}
        self._lock = threading.Lock()

    def status(self, endpoint_id: str) -> CallLimit:
        return self._limit(self._status, endpoint_id, STATUS_PER_SECOND, self._status_at_once)

    def cancel(self, endpoint_id: str) -> CallLimit:
        return self._limit(self._cancel, endpoint_id, CANCEL_PER_SECOND, CANCEL_AT_ONCE)

    def _limit(
        self, limits: dict[str, CallLimit], endpoint_id: str, per_second: float, at_once: int
    ) -> CallLimit:
        with self._lock:
            if endpoint_id not in limits:
                limits[endpoint_id] = CallLimit(per_second, burst=per_second, at_once=at_once)
            return limits[endpoint_id]
