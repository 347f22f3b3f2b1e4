"""Apply the module (prefix = "dev", all else default) to a moto server and use what it deployed."""

import contextlib
import importlib
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from localdev import aws_setup
from tests.terraform import tf_tools
from tests.terraform.moto_aws import POWERTOOLS_ACCOUNT, Deployed, applied, aws, output


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
        for statement in _document(
            iam.get_role_policy(RoleName="dev-runpod-webhook", PolicyName=name)["PolicyDocument"]
        )["Statement"]
    ]
    actions = {action for statement in statements for action in _list(statement["Action"])}

    assert attached == []
    assert actions == {
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "states:SendTaskSuccess",
        "states:SendTaskFailure",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    assert not any("*" in action for action in actions)
    for statement in statements:
        if any(action.startswith("dynamodb:") for action in _list(statement["Action"])):
            assert _list(statement["Resource"]) == [table_arn]
        if any(action.startswith("logs:") for action in _list(statement["Action"])):
            assert _list(statement["Resource"]) == [
                f"arn:aws:logs:us-east-1:{POWERTOOLS_ACCOUNT}:log-group:/aws/lambda/dev-runpod-webhook:*"
            ]
    state_machine_policy = json.loads(output(deployed, "state_machine_policy_json"))
    assert {
        action
        for statement in state_machine_policy["Statement"]
        for action in _list(statement["Action"])
    } == {"dynamodb:PutItem", "dynamodb:UpdateItem"}


def test_only_api_gateway_may_invoke_the_function(deployed: Deployed, moto_endpoint: str) -> None:
    policy = json.loads(
        aws("lambda", moto_endpoint).get_policy(FunctionName="dev-runpod-webhook")["Policy"]
    )

    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}


def test_a_callback_resumes_an_execution_through_what_was_deployed(
    deployed: Deployed, moto_endpoint: str
) -> None:
    execution = _resume_through_the_deployed_webhook(
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


def _resume_through_the_deployed_webhook(
    endpoint: str, table: str, function_name: str, runpod_output: Any
) -> dict[str, Any]:
    """A waiting execution, then RunPod's COMPLETED webhook with `runpod_output`, handled by the
    handler in the deployed function's environment; returns the finished execution."""
    stepfunctions = aws("stepfunctions", endpoint)
    machine = aws_setup.create_state_machine(
        stepfunctions,
        f"deployed-check-{uuid.uuid4().hex[:8]}",
        aws_setup.waiting_task_definition(table),
    )
    execution_arn, token = aws_setup.start_waiting_execution(
        stepfunctions, machine, segment_filename="seg_0001.mp4", job_id="runpod-job-1"
    )
    aws_setup.wait_for_record(aws("dynamodb", endpoint), table, token)
    configuration = aws("lambda", endpoint).get_function_configuration(FunctionName=function_name)
    body = json.dumps({"id": "runpod-job-1", "status": "COMPLETED", "output": runpod_output})

    with _handler_as_deployed(configuration["Environment"]["Variables"], endpoint) as handler:
        from localdev.lambda_context import LocalLambdaContext
        from localdev.local_webhook import webhook_event

        response = handler.lambda_handler(
            webhook_event(token, body), LocalLambdaContext(function_name=function_name)
        )

    assert response["statusCode"] == 200, response
    return aws_setup.wait_for_execution(stepfunctions, execution_arn)


@contextlib.contextmanager
def _handler_as_deployed(variables: dict[str, str], endpoint: str) -> Iterator[Any]:
    """Import the handler with the deployed function's environment, then restore the test one."""
    import handler

    with pytest.MonkeyPatch.context() as environment:
        for name, value in {**variables, "AWS_ENDPOINT_URL": endpoint}.items():
            environment.setenv(name, value)
        try:
            yield importlib.reload(handler)
        finally:
            environment.undo()
            importlib.reload(handler)


def _document(policy: Any) -> Any:
    return json.loads(policy) if isinstance(policy, str) else policy


def _list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


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

    invoke = next(s for s in policy["Statement"] if "lambda:InvokeFunction" in _list(s["Action"]))
    assert configuration["FunctionArn"] in _list(invoke["Resource"])


def test_submit_role_reads_only_its_secret(
    deployed_with_submit: Deployed, moto_endpoint: str
) -> None:
    iam = aws("iam", moto_endpoint)
    (name,) = iam.list_role_policies(RoleName="sub-runpod-submit")["PolicyNames"]
    document = _document(
        iam.get_role_policy(RoleName="sub-runpod-submit", PolicyName=name)["PolicyDocument"]
    )

    by_action = {
        action: _list(statement["Resource"])
        for statement in document["Statement"]
        for action in _list(statement["Action"])
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
    document = _document(
        iam.get_role_policy(RoleName="sub-runpod-watchdog", PolicyName=name)["PolicyDocument"]
    )

    by_actions = {
        tuple(sorted(_list(statement["Action"]))): _list(statement["Resource"])
        for statement in document["Statement"]
    }

    assert iam.list_attached_role_policies(RoleName="sub-runpod-watchdog")["AttachedPolicies"] == []
    assert by_actions == {
        ("dynamodb:Query",): [f"{table_arn}/index/status-created_at"],
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
    (statement,) = _document(
        iam.get_role_policy(RoleName="sub-runpod-watchdog-schedule", PolicyName=name)[
            "PolicyDocument"
        ]
    )["Statement"]
    assert (_list(statement["Action"]), _list(statement["Resource"])) == (
        ["lambda:InvokeFunction"],
        [function_arn],
    )


def test_second_plan_of_the_module_with_the_watchdog_shows_no_changes(
    deployed_with_submit: Deployed, terraform: str
) -> None:
    result = tf_tools.plan_again(terraform, deployed_with_submit.root)

    assert result.returncode == 0, result.stdout + result.stderr


RESULTS_BUCKET = f"big-runpod-results-{POWERTOOLS_ACCOUNT}-us-east-1"


@pytest.fixture(scope="module")
def deployed_with_large_outputs(
    terraform: str, module_tree: Path, moto_endpoint: str
) -> Iterator[Deployed]:
    """The module with large outputs in the bucket it creates, under a customer-managed key, and
    the watchdog: both functions that write results."""
    with applied(terraform, module_tree / "roots" / "moto_large_outputs") as root:
        yield root


def test_bucket_policy_refuses_every_request_without_tls(
    deployed_with_large_outputs: Deployed, moto_endpoint: str
) -> None:
    policy = json.loads(aws("s3", moto_endpoint).get_bucket_policy(Bucket=RESULTS_BUCKET)["Policy"])

    (statement,) = policy["Statement"]

    assert statement.pop("Resource") in (
        [f"arn:aws:s3:::{RESULTS_BUCKET}", f"arn:aws:s3:::{RESULTS_BUCKET}/*"],
        [f"arn:aws:s3:::{RESULTS_BUCKET}/*", f"arn:aws:s3:::{RESULTS_BUCKET}"],
    )
    assert statement == {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def test_writers_may_put_results_under_the_prefix_and_nothing_else(
    deployed_with_large_outputs: Deployed, moto_endpoint: str
) -> None:
    iam = aws("iam", moto_endpoint)
    key_arn = output(deployed_with_large_outputs, "kms_key_arn")
    in_this_account = {"StringEquals": {"s3:ResourceAccount": POWERTOOLS_ACCOUNT}}

    for role in ("big-runpod-webhook", "big-runpod-watchdog"):
        (name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
        document = _document(iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"])

        assert _s3_and_kms(document) == {
            ("s3:PutObject",): ([f"arn:aws:s3:::{RESULTS_BUCKET}/results/*"], in_this_account),
            ("kms:GenerateDataKey",): ([key_arn], None),
        }, role
    state_machine = json.loads(output(deployed_with_large_outputs, "state_machine_policy_json"))
    assert _s3_and_kms(state_machine) == {
        ("s3:GetObject",): ([f"arn:aws:s3:::{RESULTS_BUCKET}/results/*"], in_this_account),
        ("kms:Decrypt",): ([key_arn], None),
    }


def test_a_result_too_large_for_step_functions_reaches_the_task_through_the_bucket(
    deployed_with_large_outputs: Deployed, moto_endpoint: str
) -> None:
    """Terraform's bucket and environment, the handler's PutObject: no SSE header is sent, the
    bucket's default encryption (the customer-managed key) applies."""
    s3 = aws("s3", moto_endpoint)
    runpod_output = {"frames": [f"{index:04d}" + "A" * 996 for index in range(300)]}

    with _bucket_open_to_this_test(s3, RESULTS_BUCKET):
        execution = _resume_through_the_deployed_webhook(
            moto_endpoint,
            output(deployed_with_large_outputs, "table_name"),
            "big-runpod-webhook",
            runpod_output,
        )
        assert execution["status"] == "SUCCEEDED"
        task_output = json.loads(execution["output"])
        location = task_output["output_s3"]
        stored = s3.get_object(Bucket=RESULTS_BUCKET, Key=location["key"])

        assert "output" not in task_output
        assert location["bucket"] == RESULTS_BUCKET
        assert location["key"].startswith("results/")
        assert json.loads(stored["Body"].read()) == runpod_output
        assert stored["ServerSideEncryption"] == "aws:kms"
        assert stored["SSEKMSKeyId"] == output(deployed_with_large_outputs, "kms_key_arn")


@contextlib.contextmanager
def _bucket_open_to_this_test(s3: Any, bucket: str) -> Iterator[None]:
    """Lift the bucket's policy for the block; then empty the bucket (the root's destroy needs it
    empty) and put the policy back as it was (the second plan compares it).

    The TLS-only policy denies requests whose aws:SecureTransport is false, and these go to moto
    over plain HTTP. moto also judges a condition it has no value for as failed and then denies,
    whatever the statement's effect (moto/iam/access_control.py, IAMPolicyStatement
    ._check_conditions), so with the policy in place every object request is refused.
    """
    policy = s3.get_bucket_policy(Bucket=bucket)["Policy"]
    s3.delete_bucket_policy(Bucket=bucket)
    try:
        yield
    finally:
        for stored in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=stored["Key"])
        s3.put_bucket_policy(Bucket=bucket, Policy=policy)


def test_second_plan_of_the_module_with_large_outputs_shows_no_changes(
    deployed_with_large_outputs: Deployed, terraform: str
) -> None:
    result = tf_tools.plan_again(terraform, deployed_with_large_outputs.root)

    assert result.returncode == 0, result.stdout + result.stderr


def _s3_and_kms(document: Any) -> dict[tuple[str, ...], tuple[list[str], Any]]:
    """The S3 and KMS statements of a policy: sorted actions → (resources, condition)."""
    return {
        tuple(sorted(_list(statement["Action"]))): (
            _list(statement["Resource"]),
            statement.get("Condition"),
        )
        for statement in document["Statement"]
        if any(action.startswith(("s3:", "kms:")) for action in _list(statement["Action"]))
    }
