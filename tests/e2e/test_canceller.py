"""When an execution stops, its RunPod jobs are cancelled at once (EventBridge's status change
event, not the watchdog's next sweep), through the same claim as every delivery."""

import pytest

from localdev import aws_setup
from localdev.lambda_context import LocalLambdaContext
from runpod_callbacks import callback_records
from runpod_callbacks.callback_records import CallbackRecords
from runpod_callbacks.record_table import RecordTable
from tests.e2e.conftest import RunPodWorld, stop


def test_a_stopped_executions_job_is_cancelled_at_once_and_only_once(world: RunPodWorld) -> None:
    world.runpod.jobs_run_until_cancelled = True
    job, job_id = world.run_job()
    stop(world.local, job)

    first = world.stopped(job)
    again = world.stopped(job)  # EventBridge may deliver an event twice

    assert first == {"cancelled": 1}
    assert again == {}
    assert world.runpod.cancel_requests == [job_id]
    assert world.runpod.jobs[job_id].status == "CANCELLED"
    record = world.local.record(job.callback_token)
    assert record is not None
    assert record["status"] == "EXPIRED"
    assert record["result"]["expired_because"] == "its execution was ABORTED"
    assert "pending_shard" not in record  # out of the watchdog's index: its sweep finds nothing


def test_a_job_whose_result_is_being_delivered_is_left_alone(world: RunPodWorld) -> None:
    """The claim decides: a delivery holds the record, so the job ended and its result is on its
    way; the canceller neither cancels nor expires it."""
    world.runpod.jobs_run_until_cancelled = True
    job, job_id = world.run_job()
    table = RecordTable(world.local.dynamodb, world.local.table_name)
    CallbackRecords(table).claim(job.callback_token, job_id)  # the webhook, in flight
    stop(world.local, job)

    answer = world.stopped(job)

    assert answer == {"not ours": 1}
    assert world.runpod.cancel_requests == []
    record = world.local.record(job.callback_token)
    assert record is not None
    assert record["status"] == "PENDING"


def test_an_event_of_another_kind_or_of_a_running_execution_changes_nothing(
    world: RunPodWorld,
) -> None:
    world.runpod.jobs_run_until_cancelled = True
    job, _ = world.run_job()
    execution = world.local.stepfunctions.describe_execution(executionArn=job.execution_arn)

    running = aws_setup.status_change_event(execution, "RUNNING")
    scheduled = {"detail-type": "Scheduled Event", "detail": {}}

    answers = [
        world.canceller.lambda_handler(e, LocalLambdaContext()) for e in (running, scheduled)
    ]

    assert answers == [{}, {}]
    assert world.runpod.cancel_requests == []


def test_runpod_unavailable_leaves_the_record_and_asks_eventbridge_to_try_again(
    world: RunPodWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.runpod.jobs_run_until_cancelled = True
    job, job_id = world.run_job()
    stop(world.local, job)
    world.runpod.cancel_answers.append((503, {"error": "busy"}))

    with pytest.raises(RuntimeError, match="left to cancel"):
        world.stopped(job)
    later = callback_records.epoch_ms() + callback_records.LEASE_MS + 1_000
    monkeypatch.setattr(callback_records, "epoch_ms", lambda: later)
    retried = world.stopped(job)  # Lambda's retry of the event

    assert retried == {"cancelled": 1}
    assert world.runpod.cancel_requests == [job_id, job_id]


def test_a_cancel_refusal_quoting_the_webhook_url_puts_no_whole_token_in_logs_or_errors(
    world: RunPodWorld, capsys: pytest.CaptureFixture[str]
) -> None:
    """RunPod's /cancel answer may echo the job's webhook URL; the record is still PENDING, so the
    whole callback token in a log line would let its reader post a forged result."""
    world.runpod.jobs_run_until_cancelled = True
    job, _ = world.run_job()
    webhook_url = str(world.runpod.runs[-1].body["webhook"])
    stop(world.local, job)
    world.runpod.cancel_answers.append((503, {"error": f"busy, webhook={webhook_url}"}))
    capsys.readouterr()

    with pytest.raises(RuntimeError, match="left to cancel") as raised:
        world.stopped(job)
    logs = capsys.readouterr().out

    assert job.callback_token not in logs + str(raised.value)
