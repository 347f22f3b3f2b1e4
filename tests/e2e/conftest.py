"""End-to-end fixtures: moto as AWS (state machines really run), the real handler invoked on it."""

import json
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import moto
import pytest

from localdev.local_aws import EXECUTE_STATE_MACHINES
from localdev.local_webhook import Job, LocalWebhook

EVENTS = Path(__file__).parent.parent / "events"


def load_event(name: str) -> Any:
    return json.loads((EVENTS / name).read_text())


class _CurrentStdout:
    """Whatever sys.stdout is at the moment of writing, so capsys sees the handler's log lines."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


@pytest.fixture
def handler() -> Any:
    import handler as webhook_handler

    webhook_handler.logger.registered_handler.setStream(_CurrentStdout())
    return webhook_handler


@pytest.fixture
def local_webhook(handler: Any) -> Iterator[LocalWebhook]:
    with moto.mock_aws(config=EXECUTE_STATE_MACHINES):
        yield LocalWebhook(handler)


class SentTasks(list[str]):
    """The names of the SendTask* calls made, in order; ``requests`` holds their parameters."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[dict[str, Any]] = []

    def clear(self) -> None:
        super().clear()
        self.requests.clear()

    def record(self, model: Any, params: dict[str, Any], **_: Any) -> None:
        self.append(model.name)
        self.requests.append(dict(params))

    def output(self) -> Any:
        """The task output of the one SendTaskSuccess, numbers parsed exactly (as Decimal)."""
        (request,) = [
            r for name, r in zip(self, self.requests, strict=True) if name == "SendTaskSuccess"
        ]
        return json.loads(request["output"], parse_float=Decimal)

    def failure(self) -> dict[str, Any]:
        """The parameters of the last SendTaskFailure (moto does not keep the cause)."""
        return [
            r for name, r in zip(self, self.requests, strict=True) if name == "SendTaskFailure"
        ][-1]


@pytest.fixture
def sent_tasks(handler: Any) -> Iterator[SentTasks]:
    """The SendTask* calls the handler makes, in order, seen at its client (once per call)."""
    sent = SentTasks()
    events = handler.stepfunctions.meta.events
    for operation in ("SendTaskSuccess", "SendTaskFailure"):
        events.register(f"before-parameter-build.sfn.{operation}", sent.record)
    yield sent
    for operation in ("SendTaskSuccess", "SendTaskFailure"):
        events.unregister(f"before-parameter-build.sfn.{operation}", sent.record)


def body(name: str, **overrides: Any) -> dict[str, Any]:
    """A RunPod webhook body from tests/events, with fields replaced."""
    return {**load_event(name), **overrides}


def response_json(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


@pytest.fixture
def live_job(local_webhook: LocalWebhook) -> Job:
    """An execution waiting for job runpod-job-123."""
    return local_webhook.start_job(job_id="runpod-job-123")
