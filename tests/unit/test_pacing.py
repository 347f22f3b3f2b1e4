"""The watchdog's pacing: so many calls a second on average, a burst after a pause, so many at
once, and no wait past the run's deadline."""

from runpod_callbacks.pacing import CallLimit


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def limit(per_second: float, burst: float, at_once: int, time: FakeTime) -> CallLimit:
    return CallLimit(
        per_second, burst=burst, at_once=at_once, clock=lambda: time.now, sleep=time.sleep
    )


def starts(calls: CallLimit, deadline: float) -> bool:
    with calls.call(deadline) as started:
        return started


def test_a_burst_goes_at_once_then_calls_are_spaced_at_the_rate() -> None:
    time = FakeTime()
    calls = limit(10, burst=3, at_once=100, time=time)

    started = [starts(calls, deadline=100) for _ in range(5)]

    assert started == [True] * 5
    assert time.slept == [0.1, 0.1]  # three at once, then one every 100 ms
    assert time.now == 0.2


def test_a_call_that_cannot_start_by_the_deadline_is_refused_without_waiting() -> None:
    time = FakeTime()
    calls = limit(1, burst=1, at_once=100, time=time)
    assert starts(calls, deadline=10)

    refused = starts(calls, deadline=0.5)  # the next token comes at 1.0

    assert not refused
    assert time.slept == []
    assert starts(calls, deadline=10)  # a refused call took no token
    assert time.slept == [1.0]


def test_calls_in_flight_are_bounded() -> None:
    time = FakeTime()
    calls = limit(1000, burst=1000, at_once=2, time=time)

    with calls.call(deadline=5) as first, calls.call(deadline=5) as second:
        third = starts(calls, deadline=0)  # a third must wait for one to end

    assert (first, second, third) == (True, True, False)
    assert starts(calls, deadline=0)
