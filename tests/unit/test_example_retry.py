"""The retry of RunPod.SubmitThrottled that `examples/complete` and the README's wiring give: a
burst of 10,000 submissions on one endpoint is admitted under RunPod's /run limit, none failed.

The burst runs in the event-driven model of `make scale` (bench/scale_burst.py): RunPod's
admission by its per-endpoint limits, Step Functions' backoff in virtual time."""

import json
import re

from bench.limited_runpod import Latency
from bench.scale_burst import RetryPolicy, example_retry_policy, run
from tests.terraform.tf_tools import REPO


def readme_retry_policy() -> RetryPolicy:
    readme = (REPO / "README.md").read_text()
    (retry,) = [
        json.loads(match)
        for match in re.findall(
            r"\{\"ErrorEquals\": \[\"RunPod\.SubmitThrottled\"\][^}]*\}", readme
        )
    ]
    return RetryPolicy(
        interval_s=float(retry["IntervalSeconds"]),
        backoff_rate=float(retry["BackoffRate"]),
        max_delay_s=float(retry["MaxDelaySeconds"]),
        max_attempts=int(retry["MaxAttempts"]),
        jitter=retry["JitterStrategy"],
    )


def test_the_readme_wires_the_examples_retry_with_full_jitter_and_a_capped_delay() -> None:
    policy = example_retry_policy()

    assert readme_retry_policy() == policy
    assert policy.jitter == "FULL"  # a Map's children do not retry in lockstep
    assert policy.max_delay_s <= 60


def test_a_burst_of_10000_submissions_on_one_endpoint_fails_no_task() -> None:
    burst = run(10_000, False, Latency())

    assert (burst["submitted"], burst["failed"]) == (10_000, 0)
    assert burst["run_429"] > 0  # the burst did meet RunPod's limit
    assert burst["max_attempts_one_task"] <= example_retry_policy().max_attempts  # retries to spare
