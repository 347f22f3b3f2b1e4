"""Apply examples/complete whole (module, API key secret, role, state machine) to a moto server.

The example's own files, untouched; the harness adds the moto provider settings as an override file
and one output (tests/terraform/roots/example_complete).
"""

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from moto.events.models import EventPattern

from localdev import aws_setup
from runpod_callbacks.errors import TaskError
from tests.terraform import tf_tools
from tests.terraform.moto_aws import POWERTOOLS_ACCOUNT, Deployed, applied, aws, output

ENDPOINT_ID = "upscaler-v2"
TASK = "UpscaleOnRunPod"
# Errors the module's functions send that the example must route to its failure state.
CAUGHT_RUNPOD_ERRORS = {str(error) for error in TaskError}
# What Step Functions raises when the task waits too long, or hears no heartbeat from the watchdog.
CAUGHT_STATES_ERRORS = {"States.Timeout", "States.HeartbeatTimeout"}
WATCHDOG_PERIOD_S = {"rate(1 minute)": 60} | {f"rate({n} minutes)": 60 * n for n in range(2, 11)}

API_KEY = "rp_moto_test_key"


@pytest.fixture(scope="module")
def example_inputs() -> Iterator[None]:
    """The two variables without defaults, as the example's README passes them, and the opt-in
    for an account without API Gateway's CloudWatch role; they stay set until the destroy at
    teardown (the ephemeral key is needed by every plan, the destroy's too)."""
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("TF_VAR_runpod_api_key", API_KEY)
        environment.setenv("TF_VAR_runpod_endpoint_id", ENDPOINT_ID)
        environment.setenv("TF_VAR_create_api_gateway_cloudwatch_role", "true")
        yield


@pytest.fixture(scope="module")
def deployed(
    terraform: str, module_tree: Path, moto_endpoint: str, example_inputs: None
) -> Iterator[Deployed]:
    with applied(terraform, module_tree / "roots" / "example_complete") as root:
        yield root


@pytest.fixture(scope="module")
def state_machine(deployed: Deployed, moto_endpoint: str) -> dict[str, Any]:
    return dict(
        aws("stepfunctions", moto_endpoint).describe_state_machine(
            stateMachineArn=output(deployed, "state_machine_arn")
        )
    )


def test_task_invokes_the_submit_function_and_waits_for_its_token(
    deployed: Deployed, state_machine: dict[str, Any]
) -> None:
    task = json.loads(state_machine["definition"])["States"][TASK]

    assert task["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert task["Parameters"]["FunctionName"] == output(deployed, "submit_function_arn")
    assert task["Parameters"]["Payload"]["task_token.$"] == "$$.Task.Token"
    assert task["Parameters"]["Payload"]["endpoint_id"] == ENDPOINT_ID


def test_task_catches_the_runpod_errors(state_machine: dict[str, Any]) -> None:
    definition = json.loads(state_machine["definition"])
    catches = definition["States"][TASK]["Catch"]

    caught = {error for catch in catches for error in catch["ErrorEquals"]}

    assert caught >= CAUGHT_RUNPOD_ERRORS | CAUGHT_STATES_ERRORS
    assert {definition["States"][catch["Next"]]["Type"] for catch in catches} == {"Fail"}


def test_task_expects_a_heartbeat_from_the_deployed_watchdog_every_few_periods(
    deployed: Deployed, state_machine: dict[str, Any], moto_endpoint: str
) -> None:
    """The watchdog beats a waiting task once a period; three periods tolerate two missed runs."""
    task = json.loads(state_machine["definition"])["States"][TASK]
    schedule = aws("scheduler", moto_endpoint).get_schedule(Name="dev-runpod-watchdog")

    period = WATCHDOG_PERIOD_S[schedule["ScheduleExpression"]]

    assert schedule["Target"]["Arn"].endswith(":function:dev-runpod-watchdog")
    assert task["HeartbeatSeconds"] >= 3 * period
    assert task["HeartbeatSeconds"] < task["TimeoutSeconds"]


def test_role_carries_the_module_state_machine_policy(
    deployed: Deployed, state_machine: dict[str, Any], moto_endpoint: str
) -> None:
    iam = aws("iam", moto_endpoint)
    role = state_machine["roleArn"].rsplit("/", 1)[-1]

    (name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]

    assert document == json.loads(output(deployed, "state_machine_policy_json"))
    assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    assert [s["Principal"] for s in trust["Statement"]] == [{"Service": "states.amazonaws.com"}]


def test_an_execution_hands_the_submit_function_its_task_token(
    deployed: Deployed, moto_endpoint: str
) -> None:
    stepfunctions = aws("stepfunctions", moto_endpoint)
    name = aws_setup.execution_name()
    job_input = {"video": "s3://videos/seg_0001.mp4", "scale": 4}
    execution = stepfunctions.start_execution(
        stateMachineArn=output(deployed, "state_machine_arn"),
        name=name,
        input=json.dumps({"input": job_input, "segment_filename": "seg_0001.mp4"}),
    )["executionArn"]

    payload = aws_setup.scheduled_lambda_payload(stepfunctions, execution)

    assert payload.pop("task_token")
    assert payload == {
        "endpoint_id": ENDPOINT_ID,
        "input": job_input,
        "exec_id": name,
        "segment_filename": "seg_0001.mp4",
        "execution_arn": execution,
        "policy": {"ttl": 3600000},
    }


def test_a_stopped_execution_of_the_example_reaches_the_canceller(
    deployed: Deployed, moto_endpoint: str
) -> None:
    """The deployed rule matches the event Step Functions sends when an execution of the
    example's state machine stops (by the name prefix the example gives), and targets the
    canceller, which EventBridge may invoke."""
    events = aws("events", moto_endpoint)
    (rule,) = events.list_rules(NamePrefix="dev-runpod-")["Rules"]
    pattern = json.loads(rule["EventPattern"])
    state_machine_arn = output(deployed, "state_machine_arn")
    execution = {
        "executionArn": state_machine_arn.replace(":stateMachine:", ":execution:") + ":run-1",
        "stateMachineArn": state_machine_arn,
        "name": "run-1",
        "startDate": datetime.now(UTC),
        "stopDate": datetime.now(UTC),
    }
    event = aws_setup.status_change_event(execution, "ABORTED")
    other = {
        **event,
        "detail": {
            **event["detail"],
            "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:someone-else",
        },
    }

    # moto does not serve TestEventPattern; its rule matcher is the one it routes events with.
    matches = EventPattern(rule["EventPattern"], pattern).matches_event
    assert matches(json.loads(json.dumps(event, default=str)))
    assert not matches(json.loads(json.dumps(other, default=str)))
    assert set(pattern["detail"]["status"]) == {"ABORTED", "TIMED_OUT", "FAILED"}
    (target,) = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
    canceller = aws("lambda", moto_endpoint).get_function(FunctionName="dev-runpod-canceller")
    assert target["Arn"] == canceller["Configuration"]["FunctionArn"]
    policy = json.loads(
        aws("lambda", moto_endpoint).get_policy(FunctionName="dev-runpod-canceller")["Policy"]
    )
    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == rule["Arn"]


@pytest.mark.parametrize("error", ["RunPod.FAILED", "RunPod.TIMED_OUT", "RunPod.JobLost"])
def test_a_runpod_failure_ends_in_the_failure_state(
    deployed: Deployed, moto_endpoint: str, error: str
) -> None:
    stepfunctions = aws("stepfunctions", moto_endpoint)
    execution = stepfunctions.start_execution(
        stateMachineArn=output(deployed, "state_machine_arn"),
        name=aws_setup.execution_name(),
        input=json.dumps({"input": {}, "segment_filename": "seg_0002.mp4"}),
    )["executionArn"]
    token = aws_setup.scheduled_lambda_payload(stepfunctions, execution)["task_token"]

    # What the webhook sends when RunPod reports the job FAILED or TIMED_OUT, or the watchdog
    # when RunPod no longer knows the job.
    stepfunctions.send_task_failure(taskToken=token, error=error, cause="{}")

    assert aws_setup.wait_for_execution(stepfunctions, execution)["status"] == "FAILED"
    history = stepfunctions.get_execution_history(executionArn=execution)["events"]
    entered = [
        e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e
    ]
    (failure,) = [
        e["executionFailedEventDetails"] for e in history if "executionFailedEventDetails" in e
    ]
    assert entered == [TASK, "SegmentFailed"]
    assert failure["error"] == "SegmentFailed"


def test_the_task_is_followed_by_a_choice_on_where_the_result_is(
    state_machine: dict[str, Any],
) -> None:
    states = json.loads(state_machine["definition"])["States"]

    choice = states[states[TASK]["Next"]]

    assert choice["Type"] == "Choice"
    assert choice["Choices"] == [
        {"Variable": "$.output_s3", "IsPresent": True, "Next": "ResultInS3"}
    ]
    assert choice["Default"] == "SegmentUpscaled"


def test_the_state_machine_may_read_the_results_in_the_deployed_bucket(deployed: Deployed) -> None:
    bucket = output(deployed, "large_outputs_bucket_name")
    policy = json.loads(output(deployed, "state_machine_policy_json"))

    (read,) = [s for s in policy["Statement"] if s["Action"] in ("s3:GetObject", ["s3:GetObject"])]

    assert bucket == f"dev-runpod-results-{POWERTOOLS_ACCOUNT}-us-east-1"
    assert read["Resource"] == f"arn:aws:s3:::{bucket}/runpod-results/*"


LOCATION = {
    "bucket": f"dev-runpod-results-{POWERTOOLS_ACCOUNT}-us-east-1",
    "key": "runpod-results/segment-1/job-1.json",
    "uri": f"s3://dev-runpod-results-{POWERTOOLS_ACCOUNT}-us-east-1/runpod-results/segment-1/job-1.json",
    "size_bytes": 300000,
    "sha256": "0" * 64,
}


@pytest.mark.parametrize(
    ("result", "path", "execution_output"),
    [
        (
            {"output": {"video": "s3://videos/seg_0003.mp4"}},
            [TASK, "FindResult", "SegmentUpscaled"],
            None,  # the task output, as it came
        ),
        (
            {"output_s3": LOCATION},
            [TASK, "FindResult", "ResultInS3", "SegmentUpscaled"],
            {"job_id": "job-1", "segment_filename": "seg_0003.mp4", "result_s3": LOCATION},
        ),
    ],
    ids=["inline", "in-s3"],
)
def test_a_result_inline_or_in_s3_ends_the_segment_upscaled(
    deployed: Deployed,
    moto_endpoint: str,
    result: dict[str, Any],
    path: list[str],
    execution_output: dict[str, Any] | None,
) -> None:
    stepfunctions = aws("stepfunctions", moto_endpoint)
    execution = stepfunctions.start_execution(
        stateMachineArn=output(deployed, "state_machine_arn"),
        name=aws_setup.execution_name(),
        input=json.dumps({"input": {}, "segment_filename": "seg_0003.mp4"}),
    )["executionArn"]
    token = aws_setup.scheduled_lambda_payload(stepfunctions, execution)["task_token"]
    # What the webhook sends on COMPLETED (other fields of its output left out).
    task_output = {"job_id": "job-1", "status": "COMPLETED", "segment_filename": "seg_0003.mp4"}
    task_output |= result

    stepfunctions.send_task_success(taskToken=token, output=json.dumps(task_output))

    finished = aws_setup.wait_for_execution(stepfunctions, execution)
    assert finished["status"] == "SUCCEEDED"
    history = stepfunctions.get_execution_history(executionArn=execution)["events"]
    entered = [
        e["stateEnteredEventDetails"]["name"] for e in history if "stateEnteredEventDetails" in e
    ]
    assert entered == path
    assert json.loads(finished["output"]) == (execution_output or task_output)


def test_the_api_key_reaches_the_secret_and_never_the_state(
    deployed: Deployed, moto_endpoint: str
) -> None:
    secrets = aws("secretsmanager", moto_endpoint)
    (secret,) = secrets.list_secrets(Filters=[{"Key": "name", "Values": ["dev-runpod-api-key"]}])[
        "SecretList"
    ]

    stored = secrets.get_secret_value(SecretId=secret["ARN"])["SecretString"]
    state = deployed.state.read_text()

    assert stored == API_KEY
    assert secret["ARN"] in state
    assert API_KEY not in state


def test_the_region_logs_through_the_role_the_example_asked_for(
    deployed: Deployed, moto_endpoint: str
) -> None:
    iam = aws("iam", moto_endpoint)
    role_arn = aws("apigateway", moto_endpoint).get_account()["cloudwatchRoleArn"]
    role = role_arn.rsplit("/", 1)[-1]

    trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    attached = iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]

    assert role == "dev-apigw-logs-us-east-1"
    assert [s["Principal"] for s in trust["Statement"]] == [{"Service": "apigateway.amazonaws.com"}]
    assert [policy["PolicyArn"] for policy in attached] == [
        "arn:aws:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
    ]


def test_second_plan_shows_no_changes(deployed: Deployed, terraform: str) -> None:
    result = tf_tools.plan_again(terraform, deployed.root)

    assert result.returncode == 0, result.stdout + result.stderr
