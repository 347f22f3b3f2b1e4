"""The watchdog's share of RunPod's per-endpoint limits: so many calls per 10 s, per endpoint."""

from runpod_callbacks.watchdog_run import RateLimit


def test_calls_beyond_the_limit_wait_for_the_next_window_per_endpoint() -> None:
    now = [0.0]
    limit = RateLimit(2, clock=lambda: now[0])

    first = [limit.allow("a"), limit.allow("a"), limit.allow("a"), limit.allow("b")]
    now[0] = 10.0
    later = [limit.allow("a"), limit.allow("a"), limit.allow("a")]

    assert first == [True, True, False, True]
    assert later == [True, True, False]
