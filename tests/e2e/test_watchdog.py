"""The watchdog: results whose webhooks were lost are recovered, running jobs are heartbeated, jobs
nobody waits for are cancelled once; through real (moto) executions and the fake RunPod."""

import itertools
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from localdev.local_webhook import Job, LocalWebhook
from runpod_callbacks import watchdog_run
from runpod_callbacks.record_table import RecordTable
from runpod_callbacks.stale_records import WATCHDOG_CURSOR, IndexKey, StaleRecords, index_key
from tests.e2e.aws_faults import THROTTLED, AwsFaults, refused, when_request_holds
from tests.e2e.conftest import (
    API_KEY,
    ENDPOINT_ID,
    RunPodWorld,
    SentTasks,
    let_records_go_stale,
    move_watchdog_clock,
    stop,
)


@pytest.fixture
def watchdog_secret_reads(world: RunPodWorld) -> Iterator[list[str]]:
    """The secrets the watchdog reads (the RunPod API key's), one entry per GetSecretValue."""
    reads: list[str] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        reads.append(params["SecretId"])

    events = world.watchdog.secretsmanager.meta.events
    events.register("before-parameter-build.secrets-manager.GetSecretValue", record)
    yield reads
    events.unregister("before-parameter-build.secrets-manager.GetSecretValue", record)


def test_result_whose_webhooks_were_all_lost_is_recovered_by_one_run(
    world_with_stale_records: RunPodWorld, watchdog_sends: SentTasks
) -> None:
    world = world_with_stale_records
    world.runpod.webhooks_lost = True
    job, job_id = world.run_job({"segment": "s3://videos/seg_0001.mp4", "scale": 2})
    (call,) = world.runpod.wait_for_webhooks()
    assert call.statuses == [0, 0, 0]  # RunPod tried three times and gave up
    assert world.local.status_now(job) == "RUNNING"
    let_records_go_stale()

    summary = world.run_watchdog()

    assert summary["recovered"] == 1
    assert (summary["checked"], summary["errors"]) == (1, 0)
    execution = world.local.execution(job)
    assert execution["status"] == "SUCCEEDED"
    output = json.loads(execution["output"])
    assert output["job_id"] == job_id
    assert output["output"] == {"processed": {"segment": "s3://videos/seg_0001.mp4", "scale": 2}}
    assert watchdog_sends == ["SendTaskSuccess"]
    record = world.local.record(job.callback_token)
    assert record is not None
    assert record["status"] == "COMPLETED"


def test_run_after_the_result_was_delivered_changes_nothing(
    world_with_stale_records: RunPodWorld, watchdog_sends: SentTasks
) -> None:
    world = world_with_stale_records
    job, _ = world.run_job()
    world.runpod.wait_for_webhooks()
    assert world.local.execution(job)["status"] == "SUCCEEDED"
    let_records_go_stale()

    summary = world.run_watchdog()

    assert summary["checked"] == 0  # not PENDING any more: not in the stale records
    assert watchdog_sends == []


def test_job_of_a_stopped_execution_is_cancelled_once(
    world_with_stale_records: RunPodWorld, watchdog_sends: SentTasks
) -> None:
    world = world_with_stale_records
    world.runpod.jobs_run_until_cancelled = True
    job, job_id = world.run_job()
    stop(world.local, job)
    let_records_go_stale()

    runs = [world.run_watchdog() for _ in range(3)]

    assert [run["cancelled"] for run in runs] == [1, 0, 0]
    assert [run["checked"] for run in runs] == [1, 0, 0]
    assert world.runpod.cancel_requests == [job_id]
    assert world.runpod.jobs[job_id].status == "CANCELLED"
    assert watchdog_sends == []
    record = world.local.record(job.callback_token)
    assert record is not None
    assert record["status"] == "EXPIRED"
    assert record["result"]["expired_because"].startswith("Step Functions no longer waits")
    assert record["result"]["runpod_job_cancelled_at"].endswith("Z")


def test_running_job_is_heartbeated_and_left_running(
    world_with_stale_records: RunPodWorld, watchdog_sends: SentTasks
) -> None:
    world = world_with_stale_records
    world.runpod.jobs_run_until_cancelled = True
    job, _ = world.run_job()
    let_records_go_stale()

    summary = world.run_watchdog()

    assert summary["heartbeats"] == 1
    assert world.runpod.cancel_requests == []
    assert world.local.status_now(job) == "RUNNING"
    record = world.local.record(job.callback_token)
    assert record is not None
    assert record["status"] == "PENDING"
    assert watchdog_sends == []


def test_job_runpod_no_longer_knows_fails_the_task_as_lost(
    world_with_stale_records: RunPodWorld, watchdog_sends: SentTasks
) -> None:
    world = world_with_stale_records
    world.runpod.jobs_run_until_cancelled = True
    job, job_id = world.run_job()
    world.runpod.forget(job_id)
    let_records_go_stale()

    summary = world.run_watchdog()

    assert summary["lost"] == 1
    assert world.local.execution_error(job) == "RunPod.JobLost"
    cause = json.loads(watchdog_sends.failure()["cause"])
    record = world.local.record(job.callback_token)
    assert record is not None
    assert (cause["job_id"], cause["endpoint_id"]) == (job_id, ENDPOINT_ID)
    assert cause["submitted_at"] == record["created_at"]
    assert record["status"] == "FAILED"
    assert record["result"]["step_functions_error"] == "RunPod.JobLost"


UNAVAILABLE = [
    pytest.param((429, {"error": "rate limited"}), id="429"),
    pytest.param((503, {"error": "busy"}), id="5xx"),
    pytest.param(b"HTTP/1.1 two-hundred\r\n\r\n", id="broken-answer"),
]


@pytest.mark.parametrize("answer", UNAVAILABLE)
def test_runpod_unavailable_leaves_the_record_for_the_next_run_and_says_so(
    world_with_stale_records: RunPodWorld,
    watchdog_sends: SentTasks,
    answer: Any,
    capsys: pytest.CaptureFixture[str],
) -> None:
    world = world_with_stale_records
    world.runpod.webhooks_lost = True
    job, _ = world.run_job()
    world.runpod.wait_for_webhooks()
    let_records_go_stale()
    before = world.local.record(job.callback_token)
    world.runpod.status_answers.append(answer)

    capsys.readouterr()
    first = world.run_watchdog()
    first_logs = capsys.readouterr().out
    between = world.local.record(job.callback_token)
    second = world.run_watchdog()

    assert (first["unanswered"], first["recovered"], first["errors"]) == (1, 0, 0)
    emf = next(json.loads(line) for line in first_logs.splitlines() if '"_aws"' in line)
    assert emf["RunPodUnanswered"] == [1.0]
    assert between == before
    assert second["recovered"] == 1
    assert world.local.execution(job)["status"] == "SUCCEEDED"
    assert watchdog_sends == ["SendTaskSuccess"]


def test_records_younger_than_the_threshold_are_left_alone(world: RunPodWorld) -> None:
    world.runpod.webhooks_lost = True
    job, _ = world.run_job()
    world.runpod.wait_for_webhooks()

    summary = world.run_watchdog()  # STALE_AFTER_SECONDS: 60 by default

    assert summary["checked"] == 0
    assert world.runpod.status_requests == []
    assert world.local.status_now(job) == "RUNNING"


def test_own_submitters_records_without_a_job_id_are_heartbeated_only(
    world_with_stale_records: RunPodWorld, local_webhook: LocalWebhook
) -> None:
    world = world_with_stale_records
    waiting = local_webhook.start_job(job_id="")  # the seed's own state machine: no endpoint_id
    stopped = local_webhook.start_job(job_id="")
    stop(local_webhook, stopped)
    let_records_go_stale()

    summary = world.run_watchdog()

    assert (summary["heartbeats"], summary["expired"], summary["checked"]) == (1, 1, 2)
    assert world.runpod.status_requests == []
    assert world.runpod.cancel_requests == []
    assert local_webhook.status_now(waiting) == "RUNNING"
    for job, status in ((waiting, "PENDING"), (stopped, "EXPIRED")):
        record = local_webhook.record(job.callback_token)
        assert record is not None
        assert record["status"] == status


def test_heartbeat_step_functions_keeps_refusing_is_counted_published_and_tried_next_run(
    world_with_stale_records: RunPodWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run whose heartbeats fail still succeeds as a function: only WatchdogErrors (and its
    alarm) says that those tasks' heartbeats may lapse."""
    world = world_with_stale_records
    world.runpod.jobs_run_until_cancelled = True
    job, _ = world.run_job()
    let_records_go_stale()
    faults = AwsFaults(world.watchdog.stepfunctions)
    faults.fail("SendTaskHeartbeat", THROTTLED)
    capsys.readouterr()
    try:
        refused = world.run_watchdog()
    finally:
        faults.clear()
    logs = capsys.readouterr().out
    next_run = world.run_watchdog()

    assert (refused["errors"], refused["heartbeats"]) == (1, 0)
    emf = next(json.loads(line) for line in logs.splitlines() if '"_aws"' in line)
    assert emf["WatchdogErrors"] == [1.0]
    assert f"Heartbeat of callback {job.callback_token[:4]}" in logs
    assert world.runpod.cancel_requests == []
    assert next_run["heartbeats"] == 1
    assert world.local.status_now(job) == "RUNNING"


@pytest.fixture
def three_running_jobs(world_with_stale_records: RunPodWorld) -> RunPodWorld:
    """Three jobs still running at RunPod, their records stale."""
    world = world_with_stale_records
    world.runpod.jobs_run_until_cancelled = True
    for _ in range(3):
        world.run_job()
    let_records_go_stale()
    return world


def test_run_is_bounded_by_its_records_and_its_time(
    three_running_jobs: RunPodWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = three_running_jobs
    monkeypatch.setenv("MAX_RECORDS_PER_RUN", "2")

    bounded = world.run_watchdog()
    out_of_time = world.run_watchdog(remaining_time_ms=10_000)

    assert bounded["checked"] == 2
    assert out_of_time["checked"] == 0


def test_runs_that_take_their_limit_reach_every_record_in_turn(
    three_running_jobs: RunPodWorld,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    world = three_running_jobs
    heartbeats: list[str] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        heartbeats.append(params["taskToken"])

    events = world.watchdog.stepfunctions.meta.events
    events.register("before-parameter-build.sfn.SendTaskHeartbeat", record)
    request.addfinalizer(
        lambda: events.unregister("before-parameter-build.sfn.SendTaskHeartbeat", record)
    )

    def heartbeated_by_one_run() -> set[str]:
        heartbeats.clear()
        world.run_watchdog()
        return set(heartbeats)

    monkeypatch.setenv("MAX_RECORDS_PER_RUN", "3")  # as many records as a run may take
    every_task = heartbeated_by_one_run()
    assert len(every_task) == 3
    assert heartbeated_by_one_run() == every_task  # the next run is not left empty

    monkeypatch.setenv("MAX_RECORDS_PER_RUN", "2")  # fewer: runs take turns, wrapping around
    runs = [heartbeated_by_one_run() for _ in range(3)]
    assert [len(run) for run in runs] == [2, 2, 2]
    for first, second in itertools.pairwise(runs):
        assert first | second == every_task  # no record waits more than a run behind another


def test_summary_is_returned_logged_as_one_line_and_counted(
    world_with_stale_records: RunPodWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    world = world_with_stale_records
    world.runpod.webhooks_lost = True
    world.run_job()
    world.runpod.wait_for_webhooks()
    let_records_go_stale()
    capsys.readouterr()

    summary = world.run_watchdog()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line[:1] == "{"]

    assert set(summary) == {
        "checked", "recovered", "already_resumed", "heartbeats", "cancelled", "lost", "failed",
        "expired", "skipped", "unanswered", "errors", "behind",
    }  # fmt: skip
    assert all(isinstance(count, int) for count in summary.values())
    (logged,) = [line for line in lines if line.get("message", "").startswith("Watchdog run:")]
    assert logged["summary"] == summary
    assert logged["service"]
    emf = next(line for line in lines if "_aws" in line)
    assert emf["RecoveredByWatchdog"] == [1.0]


def test_api_key_and_task_tokens_never_reach_the_logs(
    world_with_stale_records: RunPodWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    world = world_with_stale_records
    world.runpod.jobs_run_until_cancelled = True
    job, _ = world.run_job()
    record = world.local.record(job.callback_token)
    assert record is not None
    stop(world.local, job)
    let_records_go_stale()
    capsys.readouterr()

    world.run_watchdog()
    logs = capsys.readouterr().out

    assert "Cancelled RunPod job" in logs
    for secret in (record["task_token"], job.callback_token, "rp_TESTKEY"):
        assert secret not in logs


def test_run_with_nothing_stale_calls_nobody_and_publishes_no_metric(
    world: RunPodWorld, watchdog_secret_reads: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    summary = world.run_watchdog()

    assert summary == dict.fromkeys(summary, 0)
    assert world.runpod.status_requests == []
    assert watchdog_secret_reads == []  # nothing to ask RunPod: the run costs no secret read
    assert '"_aws"' not in capsys.readouterr().out  # a metric is billed for each hour it gets data


def test_key_that_cannot_be_read_leaves_runpod_records_for_the_next_run_and_settles_the_rest(
    world_with_stale_records: RunPodWorld, watchdog_secret_reads: list[str]
) -> None:
    """The records that need RunPod would fail alike: one read of the secret, none of them
    touched, and their results wait for the run after the key is fixed. Records that need only
    a heartbeat are settled meanwhile."""
    world = world_with_stale_records
    world.runpod.webhooks_lost = True
    jobs = [world.run_job()[0] for _ in range(2)]
    world.runpod.wait_for_webhooks()
    own = world.local.start_job(job_id="")  # an own submitter's record: a heartbeat only
    let_records_go_stale()
    secrets = boto3.client("secretsmanager")
    secrets.put_secret_value(SecretId="runpod-api-key", SecretBinary=API_KEY.encode())

    summary = world.run_watchdog()

    assert (summary["errors"], summary["behind"], summary["recovered"]) == (1, 2, 0)
    assert summary["heartbeats"] == 1
    assert len(watchdog_secret_reads) == 1
    assert world.runpod.status_requests == []
    for job in jobs:
        record = world.local.record(job.callback_token)
        assert record is not None
        assert (record["status"], "lease_id" in record) == ("PENDING", False)
        assert world.local.status_now(job) == "RUNNING"

    secrets.put_secret_value(SecretId="runpod-api-key", SecretString=API_KEY)
    summary = world.run_watchdog()

    assert (summary["errors"], summary["recovered"]) == (0, 2)
    assert [world.local.execution(job)["status"] for job in jobs] == ["SUCCEEDED"] * 2
    assert world.local.status_now(own) == "RUNNING"


def test_index_that_fails_mid_read_still_settles_what_was_read(
    world_with_stale_records: RunPodWorld,
) -> None:
    world = world_with_stale_records
    world.runpod.webhooks_lost = True
    jobs = [world.run_job()[0] for _ in range(3)]
    world.runpod.wait_for_webhooks()
    let_records_go_stale()
    keys = sorted(index_key(world.local.record(job.callback_token) or {}) for job in jobs)
    store = StaleRecords(RecordTable(world.watchdog.dynamodb, world.local.table_name))
    store.save_cursor(keys[1])  # a run reads keys[1:], then wraps around to read keys[0]
    faults = AwsFaults(world.watchdog.dynamodb)
    faults.fail("Query", when_request_holds("created_at <= :high", THROTTLED))
    try:
        summary = world.run_watchdog()
    finally:
        faults.clear()

    assert (summary["errors"], summary["recovered"]) == (1, 2)
    assert world.run_watchdog()["recovered"] == 1
    assert [world.local.execution(job)["status"] for job in jobs] == ["SUCCEEDED"] * 3


@pytest.mark.parametrize("fault", [THROTTLED, refused("ValidationException")])
def test_cursor_that_cannot_be_saved_keeps_the_runs_summary(
    world_with_stale_records: RunPodWorld, fault: Any
) -> None:
    world = world_with_stale_records
    world.runpod.jobs_run_until_cancelled = True
    world.run_job()
    let_records_go_stale()
    monkeypatch_cursor = AwsFaults(world.watchdog.dynamodb)
    monkeypatch_cursor.fail("UpdateItem", when_request_holds(WATCHDOG_CURSOR, fault))
    monkeypatch_cursor.fail("UpdateItem", when_request_holds("REMOVE #after", fault))
    try:
        summary = world.run_watchdog(remaining_time_ms=watchdog_run.SPARE_MS)  # nothing reached
    finally:
        monkeypatch_cursor.clear()

    assert (summary["behind"], summary["errors"]) == (1, 1)


def test_cursor_newer_than_the_threshold_starts_from_the_oldest(
    world_with_stale_records: RunPodWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """stale_after_s raised between two runs: the saved place is younger than the new threshold
    (a Query from it to the threshold would be refused)."""
    world = world_with_stale_records
    world.runpod.jobs_run_until_cancelled = True
    world.run_job()
    let_records_go_stale()
    store = StaleRecords(RecordTable(world.watchdog.dynamodb, world.local.table_name))
    store.save_cursor(IndexKey("9999-01-01T00:00:00.000Z", "later"))
    queries = when_request_holds("created_at BETWEEN", refused("ValidationException"))
    faults = AwsFaults(world.watchdog.dynamodb)
    faults.fail("Query", queries)
    try:
        summary = world.run_watchdog()
    finally:
        faults.clear()

    assert (summary["heartbeats"], summary["errors"]) == (1, 0)


ECHOED_WEBHOOK = [
    pytest.param(400, "errors", id="refused"),
    pytest.param(429, "unanswered", id="unavailable"),
]


@pytest.mark.parametrize(("status", "counted"), ECHOED_WEBHOOK)
def test_runpod_text_quoting_the_webhook_url_is_logged_only_redacted(
    world_with_stale_records: RunPodWorld,
    capsys: pytest.CaptureFixture[str],
    status: int,
    counted: str,
) -> None:
    """RunPod's /status answer quotes the job's webhook URL (RunPod echoes ``webhook``) in an
    error. The record is still PENDING, so the whole callback token in a log line would let its
    reader post a forged result: it is logged only redacted."""
    world = world_with_stale_records
    world.runpod.jobs_run_until_cancelled = True
    job, _ = world.run_job()
    webhook_url = str(world.runpod.runs[-1].body["webhook"])
    world.runpod.status_answers.append((status, {"error": f"bad job, webhook={webhook_url}"}))
    let_records_go_stale()
    capsys.readouterr()

    summary = world.run_watchdog()
    logs = capsys.readouterr().out

    assert summary[counted] == 1
    assert "bad job, webhook=" in logs
    assert job.callback_token not in logs
    assert job.callback_token[:4] in logs  # the redacted form, to correlate


def test_result_an_earlier_delivery_sent_is_recorded_but_not_counted_recovered(
    world_with_stale_records: RunPodWorld, watchdog_sends: SentTasks
) -> None:
    """The webhook's send reached Step Functions; only its record's update failed. The watchdog
    records the outcome but did not recover a lost webhook: RecoveredByWatchdog (whose alarm
    says webhooks are being lost) stays quiet."""
    world = world_with_stale_records
    world.runpod.webhooks_lost = True
    job, _ = world.run_job()
    world.runpod.wait_for_webhooks()
    (finished,) = world.runpod.jobs.values()
    status = finished.status_object()
    faults = AwsFaults(world.local.function.dynamodb)
    faults.fail("UpdateItem", when_request_holds("completed_at", THROTTLED))  # the finalize
    try:
        faulty = world.local.deliver(job.callback_token, status)
    finally:
        faults.clear()
    assert faulty["statusCode"] == 503
    let_records_go_stale()

    summary = world.run_watchdog()

    assert (summary["recovered"], summary["already_resumed"]) == (0, 1)
    assert watchdog_sends == []
    record = world.local.record(job.callback_token)
    assert record is not None
    assert record["status"] == "COMPLETED"


@pytest.mark.parametrize(
    "reported_id", [None, "job-somebody-else"], ids=["without-id", "another-id"]
)
def test_status_answer_about_the_job_is_about_the_records_job(
    world_with_stale_records: RunPodWorld, reported_id: str | None
) -> None:
    """/status/<job id> answered without an `id`, or with another: the job asked about is the
    record's. It was once an error on every run, the record stuck until RunPod forgot the job."""
    world = world_with_stale_records
    world.runpod.webhooks_lost = True
    job, job_id = world.run_job()
    world.runpod.wait_for_webhooks()
    answer = {k: v for k, v in world.runpod.jobs[job_id].status_object().items() if k != "id"}
    if reported_id is not None:
        answer["id"] = reported_id
    world.runpod.status_answers.append((200, answer))
    let_records_go_stale()

    summary = world.run_watchdog()

    assert (summary["recovered"], summary["errors"]) == (1, 0)
    execution = world.local.execution(job)
    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"])["job_id"] == job_id


def test_status_answer_that_is_not_utf8_fails_the_task_as_invalid_output(
    world_with_stale_records: RunPodWorld, watchdog_sends: SentTasks
) -> None:
    """The webhook refuses bytes that are not UTF-8 (400); the same bytes from /status were
    once delivered with U+FFFD in place of each. Every run would read them again: the task fails
    with RunPod.InvalidOutput, saying why."""
    world = world_with_stale_records
    world.runpod.webhooks_lost = True
    job, job_id = world.run_job()
    world.runpod.wait_for_webhooks()
    body = b'{"id": "' + job_id.encode() + b'", "status": "COMPLETED", "output": "caf\xe9"}'
    world.runpod.status_answers.append(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\n\r\n"
        + body
    )
    let_records_go_stale()

    summary = world.run_watchdog()

    assert summary["failed"] == 1
    assert world.local.execution_error(job) == "RunPod.InvalidOutput"
    assert "cannot be read" in json.loads(watchdog_sends.failure()["cause"])["error"]
    record = world.local.record(job.callback_token)
    assert record is not None
    assert record["status"] == "FAILED"


@pytest.mark.parametrize("cause", ["id-not-stored", "runpod-answer-lost"])
def test_job_whose_id_was_never_stored_waits_only_while_runpod_can_still_answer(
    world_with_stale_records: RunPodWorld, watchdog_sends: SentTasks, cause: str
) -> None:
    """RunPod took the job but its id could not be stored (or RunPod's answer was lost, and
    whether it took the job is unknown), and no webhook came. The watchdog cannot ask /status
    without the id: it heartbeats the task while the job's webhook may still come, then fails it
    with RunPod.JobLost once RunPod could no longer answer for the job (its ttl plus the 30
    minutes it keeps a result). It once heartbeated such a task forever."""
    world = world_with_stale_records
    world.runpod.webhooks_lost = True
    faults = AwsFaults(world.submit.dynamodb)
    if cause == "id-not-stored":
        faults.fail("UpdateItem", THROTTLED)  # every try to store the job id
    else:
        world.runpod.answers.append((502, {"error": "bad gateway"}))
    execution, payload = world.start()
    try:
        world.invoke({**payload, "policy": {"ttl": 60_000}})
    finally:
        faults.clear()
    world.runpod.wait_for_webhooks()
    job = Job(execution, world.webhook_token())
    let_records_go_stale()

    while_answerable = world.run_watchdog()
    move_watchdog_clock(seconds=60 + 30 * 60)
    forgotten = world.run_watchdog()

    assert while_answerable["heartbeats"] == 1
    assert forgotten["lost"] == 1
    assert world.local.execution_error(job) == "RunPod.JobLost"
    assert "never stored" in json.loads(watchdog_sends.failure()["cause"])["error"]


@pytest.mark.parametrize(
    ("output_bytes", "counted", "reads"),
    [(1_500_000, "recovered", 2), (3_000_000, "failed", 2)],
    ids=["read-alone", "over-the-cap"],
)
def test_a_large_status_answer_is_read_alone_and_one_over_the_cap_fails_its_task(
    world_with_stale_records: RunPodWorld,
    watchdog_sends: SentTasks,
    monkeypatch: pytest.MonkeyPatch,
    output_bytes: int,
    counted: str,
    reads: int,
) -> None:
    """One answer of tens of megabytes once took a run near its memory; a few read at once would
    kill it, and the same record every run. An answer over what workers read side by side is
    read again and settled one at a time; one over the cap (32 MiB; 2 MB here) fails its task
    with RunPod.OutputTooLarge: one record never stops the others. (Without large outputs, a
    result read whole is too large for the task too.)"""
    monkeypatch.setattr(watchdog_run, "MAX_STATUS_BYTES", 2_000_000)
    world = world_with_stale_records
    world.runpod.webhooks_lost = True
    job, job_id = world.run_job({"frames": "x" * output_bytes})
    world.runpod.wait_for_webhooks()
    let_records_go_stale()

    summary = world.run_watchdog()

    assert (summary[counted], summary["errors"]) == (1, 0)
    assert world.runpod.status_requests == [job_id] * reads
    assert world.local.execution_error(job) == "RunPod.OutputTooLarge"
    cause = json.loads(watchdog_sends.failure()["cause"])["error"]
    assert ("at most 2000000 are read" in cause) == (counted == "failed")
