"""Apply the module with large outputs (its own bucket, a customer-managed key) and the watchdog
to a moto server, and send a result too large for Step Functions through what it deployed."""

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
        document = policy_document(
            iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        )

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
        execution = resume_through_the_deployed_webhook(
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
        tuple(sorted(as_list(statement["Action"]))): (
            as_list(statement["Resource"]),
            statement.get("Condition"),
        )
        for statement in document["Statement"]
        if any(action.startswith(("s3:", "kms:")) for action in as_list(statement["Action"]))
    }
