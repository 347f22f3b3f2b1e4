"""Apply the module with an API key secret, so with the submit function and the watchdog, to a
moto server and read back what it deployed."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.terraform import tf_tools
from tests.terraform.moto_aws import (
    POWERTOOLS_ACCOUNT,
    Deployed,
    applied,
    as_list,
    aws,
    output,
    policy_document,
)


@pytest.fixture(scope="module")
def deployed_with_submit(
    terraform: str, module_tree: Path, moto_endpoint: str
) -> Iterator[Deployed]:
    """The module with the complete example's inputs: an API key secret and the submit function."""
    with applied(terraform, module_tree / "roots" / "moto_submit") as root:
        yield root


def test_state_machine_policy_may_invoke_the_deployed_submit_function(
    deployed_with_submit: Deployed, moto_endpoint: str
) -> None:
    configuration = aws("lambda", moto_endpoint).get_function_configuration(
        FunctionName="sub-runpod-submit"
    )

    policy = json.loads(output(deployed_with_submit, "state_machine_policy_json"))

    invoke = next(s for s in policy["Statement"] if "lambda:InvokeFunction" in as_list(s["Action"]))
    assert configuration["FunctionArn"] in as_list(invoke["Resource"])


def test_submit_role_reads_only_its_secret(
    deployed_with_submit: Deployed, moto_endpoint: str
) -> None:
    iam = aws("iam", moto_endpoint)
    (name,) = iam.list_role_policies(RoleName="sub-runpod-submit")["PolicyNames"]
    document = policy_document(
        iam.get_role_policy(RoleName="sub-runpod-submit", PolicyName=name)["PolicyDocument"]
    )

    by_action = {
        action: as_list(statement["Resource"])
        for statement in document["Statement"]
        for action in as_list(statement["Action"])
    }

    assert set(by_action) == {
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "secretsmanager:GetSecretValue",
        "states:SendTaskFailure",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    assert by_action["secretsmanager:GetSecretValue"] == [
        output(deployed_with_submit, "secret_arn")
    ]
    assert by_action["dynamodb:PutItem"] == [
        f"arn:aws:dynamodb:us-east-1:{POWERTOOLS_ACCOUNT}:table/sub-runpod-callbacks"
    ]


def test_watchdog_role_is_least_privilege(
    deployed_with_submit: Deployed, moto_endpoint: str
) -> None:
    iam = aws("iam", moto_endpoint)
    table_arn = output(deployed_with_submit, "table_arn")
    (name,) = iam.list_role_policies(RoleName="sub-runpod-watchdog")["PolicyNames"]
    document = policy_document(
        iam.get_role_policy(RoleName="sub-runpod-watchdog", PolicyName=name)["PolicyDocument"]
    )

    by_actions = {
        tuple(sorted(as_list(statement["Action"]))): as_list(statement["Resource"])
        for statement in document["Statement"]
    }

    assert iam.list_attached_role_policies(RoleName="sub-runpod-watchdog")["AttachedPolicies"] == []
    assert by_actions == {
        ("dynamodb:Query",): [f"{table_arn}/index/pending_shard-created_at"],
        ("dynamodb:GetItem", "dynamodb:UpdateItem"): [table_arn],
        ("states:SendTaskFailure", "states:SendTaskHeartbeat", "states:SendTaskSuccess"): ["*"],
        ("secretsmanager:GetSecretValue",): [output(deployed_with_submit, "secret_arn")],
        ("logs:CreateLogStream", "logs:PutLogEvents"): [
            f"arn:aws:logs:us-east-1:{POWERTOOLS_ACCOUNT}:log-group:/aws/lambda/sub-runpod-watchdog:*"
        ],
    }


def test_a_schedule_invokes_the_watchdog_through_its_own_role(
    deployed_with_submit: Deployed, moto_endpoint: str
) -> None:
    iam = aws("iam", moto_endpoint)
    function_arn = output(deployed_with_submit, "watchdog_function_arn")

    schedule = aws("scheduler", moto_endpoint).get_schedule(Name="sub-runpod-watchdog")

    assert schedule["State"] == "ENABLED"
    role = iam.get_role(RoleName="sub-runpod-watchdog-schedule")["Role"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": POWERTOOLS_ACCOUNT}}
    (name,) = iam.list_role_policies(RoleName="sub-runpod-watchdog-schedule")["PolicyNames"]
    (statement,) = policy_document(
        iam.get_role_policy(RoleName="sub-runpod-watchdog-schedule", PolicyName=name)[
            "PolicyDocument"
        ]
    )["Statement"]
    assert (as_list(statement["Action"]), as_list(statement["Resource"])) == (
        ["lambda:InvokeFunction"],
        [function_arn],
    )


def test_second_plan_of_the_module_with_the_watchdog_shows_no_changes(
    deployed_with_submit: Deployed, terraform: str
) -> None:
    result = tf_tools.plan_again(terraform, deployed_with_submit.root)

    assert result.returncode == 0, result.stdout + result.stderr
