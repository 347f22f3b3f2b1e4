"""The Step Functions answers the harness adds to moto answer from moto's state, not blindly;
the race it closes is closed."""

import contextlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
from moto.stepfunctions.parser.asl.eval.callback.callback import (
    CallbackEndpoint,
    CallbackOutcomeFailure,
)

from localdev.local_aws import MOTO_SETUP_HEARTBEAT, heartbeat_race_closed, local_aws
from tests.terraform.moto_aws import (
    aws,
    serve_missing_stepfunctions_calls,
)

ROLE_ARN = "arn:aws:iam::123456789012:role/any"


def _one_pass_state(name: str) -> str:
    return json.dumps({"StartAt": name, "States": {name: {"Type": "Pass", "End": True}}})


@pytest.fixture(scope="module")
def stepfunctions() -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as environment, local_aws() as endpoint:
        serve_missing_stepfunctions_calls(environment)
        yield aws("stepfunctions", endpoint)


def test_definitions_are_validated_by_moto_parser(stepfunctions: Any) -> None:
    unknown_type = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Nope", "End": True}}})

    valid = stepfunctions.validate_state_machine_definition(definition=_one_pass_state("A"))
    invalid = stepfunctions.validate_state_machine_definition(definition=unknown_type)

    assert (valid["result"], valid["diagnostics"]) == ("OK", [])
    assert invalid["result"] == "FAIL"
    (diagnostic,) = invalid["diagnostics"]
    assert diagnostic["severity"] == "ERROR"
    assert "Nope" in diagnostic["message"]


def test_published_versions_are_listed_newest_first(stepfunctions: Any) -> None:
    machine = stepfunctions.create_state_machine(
        name="versioned", definition=_one_pass_state("A"), roleArn=ROLE_ARN, publish=True
    )["stateMachineArn"]
    stepfunctions.update_state_machine(
        stateMachineArn=machine, definition=_one_pass_state("B"), publish=True
    )
    unpublished = stepfunctions.create_state_machine(
        name="unpublished", definition=_one_pass_state("A"), roleArn=ROLE_ARN
    )["stateMachineArn"]

    versions = stepfunctions.list_state_machine_versions(stateMachineArn=machine)
    none = stepfunctions.list_state_machine_versions(stateMachineArn=unpublished)

    assert [v["stateMachineVersionArn"] for v in versions["stateMachineVersions"]] == [
        f"{machine}:2",
        f"{machine}:1",
    ]
    assert none["stateMachineVersions"] == []


@pytest.mark.parametrize("patched", [False, True])
def test_an_outcome_sent_before_the_heartbeat_wait_ends_it(
    patched: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unpatched, moto's heartbeat wait misses the outcome and times out (False after 1 s).

    Once moto delivers such an outcome itself, the unpatched case fails: drop the patch then.
    """
    # moto's own method, whatever local AWS of this module is running meanwhile
    monkeypatch.setattr(CallbackEndpoint, "setup_heartbeat_endpoint", MOTO_SETUP_HEARTBEAT)
    with heartbeat_race_closed() if patched else contextlib.nullcontext():
        endpoint = CallbackEndpoint(callback_id="token")
        endpoint.notify(
            CallbackOutcomeFailure(callback_id="token", error="RunPod.FAILED", cause="")
        )

        heartbeat = endpoint.setup_heartbeat_endpoint(heartbeat_seconds=1)

        assert heartbeat.clear_and_wait() is patched
