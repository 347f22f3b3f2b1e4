"""moto as the AWS that `terraform apply` deploys to: applying a root to it, and reading back and
using what the root deployed.

Two gaps of moto's server are filled here, both from moto's own state:

- AWS-managed Lambda layers: moto holds none and rejects a function whose layer it does not know.
- Step Functions calls of `aws_sfn_state_machine` that moto 5 does not implement. hashicorp/aws
  validates a changed definition while planning (ValidateStateMachineDefinition, from the
  resource's CustomizeDiff) and lists the machine's versions on every read
  (ListStateMachineVersions). moto's server answers both with HTTP 500 (NotImplementedError),
  which the provider retries as transient up to `max_retries` (25) times with a back-off growing
  to 300 s: plan, then apply, seem to hang.
"""

import importlib
import io
import json
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.core.responses import ActionResult
from moto.stepfunctions.parser.api import InvalidDefinition
from moto.stepfunctions.parser.models import StepFunctionsParserBackend
from moto.stepfunctions.responses import StepFunctionResponse

from localdev import aws_setup
from tests.terraform.tf_tools import checked_terraform

# AWS publishes the Powertools layer from this account. Running moto as that account lets the
# layer moto publishes carry exactly the ARN the module asks for, so a second plan is clean.
POWERTOOLS_ACCOUNT = "017000801446"
POWERTOOLS_LAYER = "AWSLambdaPowertoolsPythonV3-python313-arm64"
POWERTOOLS_LAYER_VERSION = 27


def publish_powertools_layer(endpoint: str) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as layer:
        layer.writestr("python/aws_lambda_powertools/__init__.py", "")
    lambda_client = aws("lambda", endpoint)
    for _ in range(POWERTOOLS_LAYER_VERSION):  # moto numbers versions 1, 2, ...
        lambda_client.publish_layer_version(
            LayerName=POWERTOOLS_LAYER,
            Content={"ZipFile": archive.getvalue()},
            CompatibleRuntimes=["python3.13"],
        )


def serve_missing_stepfunctions_calls(environment: pytest.MonkeyPatch) -> None:
    """Add the calls moto lacks to its Step Functions server for the life of `environment`."""
    for call in (validate_state_machine_definition, list_state_machine_versions):
        if not hasattr(StepFunctionResponse, call.__name__):
            environment.setattr(StepFunctionResponse, call.__name__, call, raising=False)


def validate_state_machine_definition(self: StepFunctionResponse) -> ActionResult:
    """The check moto itself runs at CreateStateMachine when it executes state machines."""
    try:
        StepFunctionsParserBackend._validate_definition(definition=self._get_param("definition"))
    except InvalidDefinition as invalid:
        diagnostic = {"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED"}
        return ActionResult(
            {"result": "FAIL", "diagnostics": [{**diagnostic, "message": invalid.message}]}
        )
    return ActionResult({"result": "OK", "diagnostics": []})


def list_state_machine_versions(self: StepFunctionResponse) -> ActionResult:
    machine: Any = self.stepfunction_backend.describe_state_machine(
        self._get_param("stateMachineArn")
    )
    newest_first = sorted(machine.versions.values(), key=lambda v: v.version, reverse=True)
    return ActionResult(
        {
            "stateMachineVersions": [
                {"stateMachineVersionArn": v.arn, "creationDate": v.creation_date}
                for v in newest_first
            ]
        }
    )


def aws(service: str, endpoint: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint)


@dataclass(frozen=True)
class Deployed:
    """A root of the module tree, applied; its state file is the root's terraform.tfstate."""

    root: Path

    @property
    def state(self) -> Path:
        return self.root / "terraform.tfstate"


@contextmanager
def applied(terraform: str, root: Path) -> Iterator[Deployed]:
    """Apply `root` to the test module's moto server (the moto_endpoint fixture), then destroy it.

    The destroy does not refresh: the tests put back what they change in the deployment (the
    second plan checks that moto still holds what the state says).
    """
    checked_terraform(terraform, "init", "-input=false", cwd=root)
    try:
        checked_terraform(terraform, "apply", "-auto-approve", "-input=false", cwd=root)
        yield Deployed(root)
    finally:
        checked_terraform(
            terraform, "destroy", "-auto-approve", "-input=false", "-refresh=false", cwd=root
        )


def output(deployed: Deployed, name: str) -> Any:
    """An output of an applied root."""
    return json.loads(deployed.state.read_text())["outputs"][name]["value"]


def resume_through_the_deployed_webhook(
    endpoint: str, table: str, function_name: str, runpod_output: Any
) -> dict[str, Any]:
    """A waiting execution, then RunPod's COMPLETED webhook with `runpod_output`, handled by the
    webhook in the deployed function's environment; returns the finished execution."""
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

    with _handler_as_deployed(configuration["Environment"]["Variables"], endpoint) as webhook:
        from localdev.lambda_context import LocalLambdaContext
        from localdev.local_webhook import webhook_event

        response = webhook.lambda_handler(
            webhook_event(token, body), LocalLambdaContext(function_name=function_name)
        )

    assert response["statusCode"] == 200, response
    return aws_setup.wait_for_execution(stepfunctions, execution_arn)


@contextmanager
def _handler_as_deployed(variables: dict[str, str], endpoint: str) -> Iterator[Any]:
    """Import the webhook with the deployed function's environment, then restore the test one."""
    import webhook

    with pytest.MonkeyPatch.context() as environment:
        for name, value in {**variables, "AWS_ENDPOINT_URL": endpoint}.items():
            environment.setenv(name, value)
        try:
            yield importlib.reload(webhook)
        finally:
            environment.undo()
            importlib.reload(webhook)


def policy_document(policy: Any) -> Any:
    """An IAM policy document as IAM answers it: JSON text, or already parsed."""
    return json.loads(policy) if isinstance(policy, str) else policy


def as_list(value: Any) -> list[str]:
    """A policy's Action or Resource, which IAM gives as one string or a list."""
    return [value] if isinstance(value, str) else list(value)
