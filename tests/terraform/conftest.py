"""An offline copy of the module (package.tf swapped for its double), terraform, and moto for it."""

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from localdev.local_aws import local_aws
from tests.terraform import moto_aws, tf_tools


@pytest.fixture(scope="session")
def terraform() -> str:
    binary = tf_tools.terraform_binary()
    if binary is None:
        tf_tools.unavailable("no terraform binary (set TERRAFORM or put terraform on PATH)")
    assert binary is not None
    return binary


@pytest.fixture(scope="session")
def module_tree(terraform: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The module, examples and .tftest.hcl files, installable from the provider mirror only."""
    mirror = tf_tools.provider_mirror()
    if mirror is None:
        tf_tools.unavailable("no hashicorp/aws provider mirror found (set TF_PLUGIN_DIR)")
    assert mirror is not None
    scratch = tmp_path_factory.mktemp("terraform")
    tree = tf_tools.offline_module_tree(scratch / "module")
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv(
            "TF_CLI_CONFIG_FILE", str(tf_tools.cli_config(mirror, scratch / "cli.tfrc"))
        )
        environment.setenv("TF_IN_AUTOMATION", "1")
        environment.delenv("TF_PLUGIN_CACHE_DIR", raising=False)
        # Terraform and the provider are Go programs that decode the provider's large schema on
        # every command; at Go's default GOGC=100 about a fifth of their CPU goes to collecting
        # garbage. 400 trades some memory for that CPU. A GOGC already set is kept.
        environment.setenv("GOGC", os.environ.get("GOGC", "400"))
        yield tree


@pytest.fixture(scope="session")
def initialised(terraform: str, module_tree: Path) -> Callable[[str], Path]:
    """`terraform init` of a root of the module tree, once a session whichever test asks first
    (the validate, plan and `terraform test` tests share them); returns the root's directory."""
    done: set[str] = set()

    def init(root: str) -> Path:
        directory = module_tree / root
        if root not in done:
            tf_tools.checked_terraform(
                terraform, "init", "-backend=false", "-input=false", cwd=directory
            )
            done.add(root)
        return directory

    return init


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """moto as AWS for terraform, holding the AWS-managed layer the module defaults to.

    Module-scoped: MOTO_ACCOUNT_ID and MOTO_PORT must not outlive a test module.
    """
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("MOTO_ACCOUNT_ID", moto_aws.POWERTOOLS_ACCOUNT)
        # AWS-managed IAM policies exist in every AWS account; moto holds them only when asked.
        environment.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
        moto_aws.serve_missing_stepfunctions_calls(environment)
        with local_aws() as endpoint:
            moto_aws.publish_powertools_layer(endpoint)
            environment.setenv("TF_VAR_aws_endpoint", endpoint)
            yield endpoint
