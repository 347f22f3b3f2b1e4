"""`make scale`, part 2: a burst of N submissions on one endpoint, all started at once (a
Distributed Map's children), retried by `examples/complete`'s policy for RunPod.SubmitThrottled.

Time is virtual: Step Functions' backoff is not slept, and the fake RunPod admits or refuses
each /run by RunPod's limits at the virtual time it arrives (bench/limited_runpod.VirtualClock),
an admitted one holding its place in flight for its round trip. Each attempt takes its round
trip, then the retry waits the policy's delay (full jitter: uniform between 0 and
min(MaxDelaySeconds, IntervalSeconds * BackoffRate^(retry - 1))).

``real``: every attempt is the real submit function, invoked with a fresh task token (Step
Functions gives each attempt its own), against moto in this process and the fake over HTTP.
``model``: an attempt is RunPod's admission alone (the same limiter, no function, no HTTP).

Usage: python -m bench.scale_burst <result file> <N> real|model [latency low high]
"""

import functools
import random
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.limited_runpod import Latency, LimitedRunPod, VirtualClock, serve_limited_runpod
from bench.moto_speed import faster_moto
from bench.scale_common import (
    API_KEY,
    ENDPOINT_ID,
    TABLE_NAME,
    TASK_TOKEN_LENGTH,
    quiet,
    set_aws_environment,
    sized_part_main,
)
from localdev.fake_runpod import FakeRunPod
from localdev.lambda_context import SUBMIT_TIMEOUT_MS, LocalLambdaContext

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "complete" / "main.tf"
THROTTLED = "RunPod.SubmitThrottled"


@dataclass(frozen=True)
class RetryPolicy:
    interval_s: float
    backoff_rate: float
    max_delay_s: float
    max_attempts: int
    jitter: str

    def delay(self, retry: int, rng: random.Random) -> float:
        """The wait before the ``retry``-th retry (1: the first)."""
        delay = min(self.max_delay_s, self.interval_s * self.backoff_rate ** (retry - 1))
        return rng.uniform(0, delay) if self.jitter == "FULL" else delay

    def line(self) -> str:
        return (
            f"IntervalSeconds {self.interval_s:g}, BackoffRate {self.backoff_rate:g},"
            f" MaxDelaySeconds {self.max_delay_s:g}, MaxAttempts {self.max_attempts},"
            f" JitterStrategy {self.jitter}"
        )


def example_retry_policy(path: Path = EXAMPLE) -> RetryPolicy:
    """The Retry of `examples/complete`'s submitting Task that names RunPod.SubmitThrottled."""
    import hcl2

    with path.open() as source:
        document = hcl2.load(source)
    for local in document.get("locals", []):
        for state in local.get("definition", {}).get("States", {}).values():
            for retry in state.get("Retry", []):
                if THROTTLED in [name.strip('"') for name in retry["ErrorEquals"]]:
                    return RetryPolicy(
                        interval_s=float(retry.get("IntervalSeconds", 1)),
                        backoff_rate=float(retry.get("BackoffRate", 2)),
                        max_delay_s=float(retry.get("MaxDelaySeconds", 3600 * 24 * 365)),
                        max_attempts=int(retry.get("MaxAttempts", 3)),
                        jitter=str(retry.get("JitterStrategy", "NONE")).strip('"'),
                    )
    raise LookupError(f"no Retry for {THROTTLED} in {path}")


class Burst:
    """N tasks submitting at once; each attempt's outcome from ``attempt(task, number)``."""

    def __init__(
        self, count: int, policy: RetryPolicy, limited: LimitedRunPod, clock: VirtualClock
    ) -> None:
        self.count = count
        self.policy = policy
        self.limited = limited
        self.clock = clock
        self.attempts: Counter[int] = Counter()
        self.outcomes: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()
        self.last_submitted_s = 0.0
        self._rng = random.Random(2)  # noqa: S311 - a benchmark's draws, not secrets

    def run(self, attempt: Any) -> None:
        self._attempt = attempt
        for task in range(self.count):
            self.clock.at(0.0, functools.partial(self._try, task))
        self.clock.run()

    def _try(self, task: int) -> None:
        self.attempts[task] += 1
        outcome = self._attempt(task, self.attempts[task])
        self.outcomes[outcome] += 1
        if outcome == "SUBMITTED":
            self.last_submitted_s = max(self.last_submitted_s, self.clock.now)
            return
        retries_done = self.attempts[task] - 1
        if outcome != THROTTLED or retries_done >= self.policy.max_attempts:
            self.failed[outcome] += 1
            return
        took = self.limited.round_trip()
        wait = self.policy.delay(retries_done + 1, self._rng)
        self.clock.at(self.clock.now + took + wait, lambda: self._try(task))

    def figures(self) -> dict[str, Any]:
        return {
            "submitted": self.outcomes["SUBMITTED"],
            "attempts": sum(self.attempts.values()),
            "max_attempts_one_task": max(self.attempts.values(), default=0),
            "failed": sum(self.failed.values()),
            "failed_by_error": dict(self.failed),
            "all_submitted_after_s": self.last_submitted_s,
        }


def model_attempt(limited: LimitedRunPod) -> Any:
    def attempt(task: int, number: int) -> str:
        with limited.admitted(ENDPOINT_ID, "run") as admitted:
            return "SUBMITTED" if admitted else THROTTLED

    return attempt


def real_attempt(submit: Any, rng: random.Random) -> Any:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

    def attempt(task: int, number: int) -> str:
        payload = {
            "task_token": "".join(rng.choices(alphabet, k=TASK_TOKEN_LENGTH)),
            "endpoint_id": ENDPOINT_ID,
            "input": {"segment": f"s3://videos/seg_{task:06d}.mp4"},
            "exec_id": f"exec-{task:06d}",
            "segment_filename": f"seg_{task:06d}.mp4",
        }
        context = LocalLambdaContext(remaining_time_ms=SUBMIT_TIMEOUT_MS)
        try:
            answer = submit.lambda_handler(payload, context)
        except Exception as error:
            return str(getattr(error, "error_name", type(error).__name__))
        return str(answer["status"])

    return attempt


def run(count: int, real: bool, latency: Latency) -> dict[str, Any]:
    policy = example_retry_policy()
    clock = VirtualClock()
    runpod = FakeRunPod()
    runpod.jobs_run_until_cancelled = True  # no webhooks: only the submissions are measured
    limited = LimitedRunPod(runpod, latency=latency, clock=clock)
    burst = Burst(count, policy, limited, clock)
    if real:
        _run_real(burst, limited)
    else:
        burst.run(model_attempt(limited))
    counts = limited.counts()
    return {
        "n": count,
        "mode": "real submit function" if real else "event-driven model",
        "latency": latency.label(),
        "policy": policy.line(),
        **burst.figures(),
        "run_requests": counts["requests"].get("run", 0),
        "run_429": counts["throttled"].get("run", 0),
        "peak_in_flight": counts["peak_in_flight_by_route"].get("run", 0),
    }


def _run_real(burst: Burst, limited: LimitedRunPod) -> None:
    import boto3

    from localdev import aws_setup
    from localdev.local_aws import in_process_aws
    from localdev.runtime import load_function

    set_aws_environment()
    with in_process_aws(), faster_moto(), serve_limited_runpod(limited) as api:
        aws_setup.create_callback_table(boto3.client("dynamodb"), TABLE_NAME)
        secret = boto3.client("secretsmanager").create_secret(
            Name="runpod-api-key", SecretString=API_KEY
        )
        submit = load_function(
            "submit",
            None,
            CALLBACK_TABLE_NAME=TABLE_NAME,
            RUNPOD_API_KEY_SECRET_ARN=secret["ARN"],
            RUNPOD_API_BASE_URL=api,
            WEBHOOK_BASE_URL="http://127.0.0.1:9/webhook",
        )
        quiet(submit)
        burst.run(real_attempt(submit, random.Random(uuid.uuid4().int)))  # noqa: S311 - a benchmark's draws, not secrets


if __name__ == "__main__":
    sized_part_main(run)
