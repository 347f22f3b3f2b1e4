"""Apply the module (prefix = "dev", all else default) to a moto server and use what it deployed."""

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
    resume_through_the_deployed_webhook,
)


@pytest.fixture(scope="module")
def deployed(terraform: str, module_tree: Path, moto_endpoint: str) -> Iterator[Deployed]:
    """The module with prefix = "dev" and every other input at its default."""
    with applied(terraform, module_tree / "roots" / "moto") as root:
        yield root


def test_table_arn_output_names_the_deployed_table(deployed: Deployed, moto_endpoint: str) -> None:
    table = aws("dynamodb", moto_endpoint).describe_table(TableName="dev-runpod-callbacks")["Table"]

    assert output(deployed, "table_arn") == table["TableArn"]


def test_route_integrates_the_webhook_function(deployed: Deployed, moto_endpoint: str) -> None:
    apigateway = aws("apigateway", moto_endpoint)
    api_id = output(deployed, "rest_api_id")
    resources = apigateway.get_resources(restApiId=api_id)["items"]
    webhook = next(item for item in resources if item["path"] == "/webhook/{callback_token}")

    integration = apigateway.get_integration(
        restApiId=api_id, resourceId=webhook["id"], httpMethod="POST"
    )

    assert integration["uri"].endswith("function:dev-runpod-webhook/invocations"), integration[
        "uri"
    ]


def test_iam_is_least_privilege(deployed: Deployed, moto_endpoint: str) -> None:
    iam = aws("iam", moto_endpoint)
    table_arn = output(deployed, "table_arn")

    names = iam.list_role_policies(RoleName="dev-runpod-webhook")["PolicyNames"]
    attached = iam.list_attached_role_policies(RoleName="dev-runpod-webhook")["AttachedPolicies"]
    statements = [
        statement
        for name in names
        for statement in policy_document(
            iam.get_role_policy(RoleName="dev-runpod-webhook", PolicyName=name)["PolicyDocument"]
        )["Statement"]
    ]
    actions = {action for statement in statements for action in as_list(statement["Action"])}

    assert attached == []
    assert actions == {
        "dynamodb:UpdateItem",
        "states:SendTaskSuccess",
        "states:SendTaskFailure",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    assert not any("*" in action for action in actions)
    for statement in statements:
        if any(action.startswith("dynamodb:") for action in as_list(statement["Action"])):
            assert as_list(statement["Resource"]) == [table_arn]
        if any(action.startswith("logs:") for action in as_list(statement["Action"])):
            assert as_list(statement["Resource"]) == [
                f"arn:aws:logs:us-east-1:{POWERTOOLS_ACCOUNT}:log-group:/aws/lambda/dev-runpod-webhook:*"
            ]
    state_machine_policy = json.loads(output(deployed, "state_machine_policy_json"))
    assert {
        action
        for statement in state_machine_policy["Statement"]
        for action in as_list(statement["Action"])
    } == {"dynamodb:PutItem"}  # without the submit function, its waiting Task stores records


def test_only_api_gateway_may_invoke_the_function(deployed: Deployed, moto_endpoint: str) -> None:
    policy = json.loads(
        aws("lambda", moto_endpoint).get_policy(FunctionName="dev-runpod-webhook")["Policy"]
    )

    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}


def test_a_callback_resumes_an_execution_through_what_was_deployed(
    deployed: Deployed, moto_endpoint: str
) -> None:
    execution = resume_through_the_deployed_webhook(
        moto_endpoint,
        output(deployed, "table_name"),
        output(deployed, "webhook_function_name"),
        {"ok": 1},
    )

    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"])["output"] == {"ok": 1}


def test_second_plan_shows_no_changes(deployed: Deployed, terraform: str) -> None:
    result = tf_tools.plan_again(terraform, deployed.root)

    assert result.returncode == 0, result.stdout + result.stderr
