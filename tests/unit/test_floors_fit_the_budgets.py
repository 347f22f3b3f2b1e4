"""The timeouts variables.tf accepts are the ones the functions' call budgets fit in: a shorter
one would be accepted and then end in a timeout (or a run that settles nothing) instead of a
typed answer."""

import re

import boto3
import moto

from runpod_callbacks import aws
from runpod_callbacks.large_outputs import LargeOutputStore
from runpod_callbacks.runpod_api import MAX_STATUS_BYTES
from runpod_callbacks.submission import MIN_TIMEOUT_S
from runpod_callbacks.watchdog_run import (
    MAX_WORKERS,
    PARALLEL_ANSWER_BYTES,
    SPARE_MS,
    WORKERS_PER_ENDPOINT,
    lane_workers,
)
from tests.terraform.tf_tools import REPO

# The shortest time a run takes records for, once SPARE_MS is kept for those in flight.
MIN_WATCHDOG_INTAKE_S = 30


def validation_floor(variable: str) -> int:
    """N in the `var.<variable> >= N` condition of variables.tf."""
    text = (REPO / "variables.tf").read_text()
    match = re.search(rf"var\.{re.escape(variable)} >= (\d+)", text)
    assert match, f"no floor for {variable} in variables.tf"
    return int(match.group(1))


def test_submit_timeout_floor_fits_a_try_and_what_follows_it() -> None:
    assert validation_floor("submit_timeout") == MIN_TIMEOUT_S


def test_watchdog_timeout_floor_leaves_time_to_take_records() -> None:
    floor = validation_floor("watchdog.timeout")

    assert floor == SPARE_MS // 1000 + MIN_WATCHDOG_INTAKE_S


# Lambda's limit of threads (and processes) per function instance.
LAMBDA_THREADS = 1024
# Python, boto3, Powertools and the watchdog module once imported: 51 MiB here (ru_maxrss),
# with room for the records a run holds.
RUNTIME_MIB = 100
# A JSON answer held as bytes, as text and parsed takes about this many times its size.
DECODED_FACTOR = 5
MIB = 1024 * 1024


def test_watchdog_threads_stay_under_lambdas_limit_for_any_number_of_endpoints() -> None:
    assert all(lane_workers(lanes) * lanes <= MAX_WORKERS for lanes in range(1, MAX_WORKERS + 1))
    assert MAX_WORKERS <= LAMBDA_THREADS // 2  # botocore's and the runtime's threads besides


def test_every_watchdog_worker_keeps_its_aws_connection() -> None:
    """A lane's workers call DynamoDB and Step Functions at once: a smaller pool would drop
    connections and open new TLS ones exactly when AWS is slow."""
    assert aws.MAX_POOL_CONNECTIONS >= MAX_WORKERS >= WORKERS_PER_ENDPOINT


def test_watchdog_memory_floor_holds_every_worker_reading_an_answer_at_once() -> None:
    """Every worker holds an answer of up to PARALLEL_ANSWER_BYTES; a larger one is read (up to
    MAX_STATUS_BYTES) by one worker at a time."""
    parallel = MAX_WORKERS * PARALLEL_ANSWER_BYTES * 2  # as bytes and as text
    alone = MAX_STATUS_BYTES * DECODED_FACTOR

    assert RUNTIME_MIB + (parallel + alone) / MIB <= validation_floor("watchdog.memory_size")


def test_the_longest_result_key_fits_s3s_limit() -> None:
    """A prefix as long as variables.tf allows, with the longest execution and job ids, still
    makes a key S3 takes (1,024 bytes)."""
    text = (REPO / "variables.tf").read_text()
    longest_prefix = int(re.search(r"length\(var\.large_outputs\.key_prefix\) <= (\d+)", text)[1])

    with moto.mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="results")
        store = LargeOutputStore(s3, "results", "p" * (longest_prefix - 1) + "/")
        pointer = store.put('"x"', job_id="j" * 256, exec_id="e\u00e9" * 512)

    assert len(pointer["key"].encode()) <= 1024
