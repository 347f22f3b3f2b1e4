"""The fake RunPod (localdev/fake_runpod.py) behind RunPod's published per-endpoint limits.

Each endpoint's `/run`, `/status` and `/cancel` admit so many requests per 10 s (a sliding
window over admitted requests) and so many at once; beyond either, the answer is 429, as RunPod
gives it. Every answer, a 429 too, takes a round trip drawn from ``Latency`` (RunPod is 100 to
300 ms from AWS). Connections are kept alive (HTTP/1.1), and the server counts the TCP
connections it accepted, the requests and 429s per route, and the peak of requests in flight.

Time is real by default. With a ``VirtualClock`` nobody sleeps: a request is admitted or refused
at the clock's time, and an admitted one holds its place in flight until the clock has moved
past its round trip (the submission burst's Step Functions backoff is simulated that way).
"""

import heapq
import itertools
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple

from localdev.fake_runpod import FakeRunPod, _request_handler
from localdev.loopback import serve_in_thread

WINDOW_S = 10.0


class RouteLimit(NamedTuple):
    per_window: int
    at_once: int


# RunPod's docs: per endpoint, /run 1,000 per 10 s and 200 at once; /status 2,000 per 10 s and
# 400 at once; /cancel 100 per 10 s and 20 at once. /health has no published limit.
RUNPOD_LIMITS = {
    "run": RouteLimit(1_000, 200),
    "status": RouteLimit(2_000, 400),
    "cancel": RouteLimit(100, 20),
}


class Latency(NamedTuple):
    """A round trip, uniform between ``low_s`` and ``high_s`` (equal: fixed)."""

    low_s: float = 0.1
    high_s: float = 0.3

    def draw(self, rng: random.Random) -> float:
        return rng.uniform(self.low_s, self.high_s)

    def label(self) -> str:
        if self.low_s == self.high_s:
            return f"{self.low_s * 1000:.0f} ms"
        return f"uniform {self.low_s * 1000:.0f}-{self.high_s * 1000:.0f} ms"


class VirtualClock:
    """Simulated time: events run in time order; ``now`` is the time of the one running."""

    def __init__(self) -> None:
        self.now = 0.0
        self._events: list[tuple[float, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._lock = threading.Lock()

    def at(self, moment: float, action: Callable[[], None]) -> None:
        with self._lock:
            heapq.heappush(self._events, (moment, next(self._order), action))

    def run(self) -> None:
        """Run the events, each at its time, until none is left."""
        while True:
            with self._lock:
                if not self._events:
                    return
                self.now, _, action = heapq.heappop(self._events)
            action()


@dataclass
class _Route:
    limit: RouteLimit
    admitted: deque[float] = field(default_factory=deque)
    in_flight: int = 0


class EndpointLimits:
    """RunPod's admission per endpoint and route; counts what was asked, refused and the peak
    in flight."""

    def __init__(self, limits: dict[str, RouteLimit] | None = None) -> None:
        self._limits = limits or RUNPOD_LIMITS
        self._routes: dict[tuple[str, str], _Route] = {}
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()
        self.throttled: Counter[str] = Counter()
        self.peak_in_flight: Counter[str] = Counter()

    def enter(self, endpoint_id: str, route: str, now: float) -> bool:
        """Admit one request at ``now``, or refuse it (429). An admitted one must ``leave``."""
        with self._lock:
            self.requests[route] += 1
            limit = self._limits.get(route)
            if limit is None:
                return True
            state = self._routes.setdefault((endpoint_id, route), _Route(limit))
            while state.admitted and state.admitted[0] <= now - WINDOW_S:
                state.admitted.popleft()
            if len(state.admitted) >= limit.per_window or state.in_flight >= limit.at_once:
                self.throttled[route] += 1
                return False
            state.admitted.append(now)
            state.in_flight += 1
            self.peak_in_flight[route] = max(self.peak_in_flight[route], state.in_flight)
            return True

    def leave(self, endpoint_id: str, route: str) -> None:
        with self._lock:
            state = self._routes.get((endpoint_id, route))
            if state is not None:
                state.in_flight -= 1


class ServerCounts:
    """What the HTTP server saw: TCP connections accepted, requests in flight at the peak."""

    def __init__(self) -> None:
        self.connections = 0
        self.in_flight = 0
        self.peak_in_flight = 0
        self._lock = threading.Lock()

    @contextmanager
    def request(self) -> Iterator[None]:
        with self._lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            yield
        finally:
            with self._lock:
                self.in_flight -= 1

    def connected(self) -> None:
        with self._lock:
            self.connections += 1


class LimitedRunPod:
    """A FakeRunPod with RunPod's limits, a round trip, and counts."""

    def __init__(
        self,
        runpod: FakeRunPod,
        *,
        latency: Latency | None = None,
        clock: VirtualClock | None = None,
        seed: int = 17,
    ) -> None:
        self.runpod = runpod
        self.latency = latency or Latency()
        self.clock = clock
        self.limits = EndpointLimits()
        self.server = ServerCounts()
        self._rng = random.Random(seed)  # noqa: S311 - a benchmark's draws, not secrets
        self._rng_lock = threading.Lock()
        self._started = time.monotonic()

    def now(self) -> float:
        return self.clock.now if self.clock else time.monotonic() - self._started

    def round_trip(self) -> float:
        with self._rng_lock:
            return self.latency.draw(self._rng)

    def admitted(self, endpoint_id: str, route: str) -> AbstractContextManager[bool]:
        return _admission(self, endpoint_id, route)

    def counts(self) -> dict[str, Any]:
        return {
            "requests": dict(self.limits.requests),
            "throttled": dict(self.limits.throttled),
            "peak_in_flight_by_route": dict(self.limits.peak_in_flight),
            "peak_in_flight": self.server.peak_in_flight,
            "connections": self.server.connections,
        }


@contextmanager
def _admission(runpod: LimitedRunPod, endpoint_id: str, route: str) -> Iterator[bool]:
    """Whether RunPod admits the request; the round trip is taken (really or virtually) while
    it holds its place in flight."""
    round_trip = runpod.round_trip()
    admitted = runpod.limits.enter(endpoint_id, route, runpod.now())
    clock = runpod.clock
    if clock is None:
        time.sleep(round_trip)
    try:
        yield admitted
    finally:
        if admitted:
            if clock is None:
                runpod.limits.leave(endpoint_id, route)
            else:
                moment = clock.now + round_trip
                clock.at(moment, lambda: runpod.limits.leave(endpoint_id, route))


def _route(path: str) -> tuple[str, str] | None:
    """(endpoint id, route) of a RunPod API path, or None for other paths."""
    parts = path.strip("/").split("/")
    if len(parts) >= 3 and parts[0] == "v2" and parts[2] in {"run", "status", "cancel", "health"}:
        return parts[1], parts[2]
    return None


def _limited_handler(limited: LimitedRunPod) -> type[BaseHTTPRequestHandler]:
    base: Any = _request_handler(limited.runpod)

    class LimitedEndpoints(base):  # type: ignore[misc]
        protocol_version = "HTTP/1.1"  # RunPod keeps connections alive

        def setup(self) -> None:
            limited.server.connected()
            super().setup()

        def do_GET(self) -> None:
            self._limited(super().do_GET)

        def do_POST(self) -> None:
            self._limited(super().do_POST)

        def _limited(self, answer: Callable[[], None]) -> None:
            route = _route(self.path)
            with limited.server.request():
                if route is None:
                    answer()
                    return
                with limited.admitted(*route) as admitted:
                    if admitted:
                        answer()
                        return
                    length = int(self.headers.get("Content-Length") or 0)
                    self.rfile.read(length)  # the request's body, unread by a refusal
                    self._answer((429, {"error": "rate limit exceeded"}))

    return LimitedEndpoints


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # many workers connect at once


@contextmanager
def serve_limited_runpod(limited: LimitedRunPod) -> Iterator[str]:
    """Serve on 127.0.0.1 at a free port; yields the API base URL (…/v2)."""
    server = _Server(("127.0.0.1", 0), _limited_handler(limited))
    with serve_in_thread(server, "limited-runpod") as base_url:
        yield f"{base_url}/v2"
