"""A state created by the module before resources were named by role plans as moves only.

The module of commit d28c882 (main before the renames) is applied to moto through the roots of
that commit; then this checkout's module is planned over the same state through this checkout's
roots, which call the module alike and read its renamed outputs: what a user upgrading the
module does. Both trees run the same lambda zip, so the plan shows the Terraform change only.
"""

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.terraform import tf_tools

PREVIOUS_COMMIT = "d28c882ccb625cbeffae9f6f443f332bb2fb98e8"  # main before the renames
MODULE = "module.runpod_webhook"
# The webhook function's resources, renamed by role (migrations.tf); the submit function's
# resources and the shared ones keep their addresses.
MOVES = {
    f"{MODULE}.aws_lambda_function.this": f"{MODULE}.aws_lambda_function.webhook",
    f"{MODULE}.aws_cloudwatch_log_group.lambda": f"{MODULE}.aws_cloudwatch_log_group.webhook",
    f"{MODULE}.aws_iam_role.this": f"{MODULE}.aws_iam_role.webhook",
    f"{MODULE}.aws_iam_role_policy.this": f"{MODULE}.aws_iam_role_policy.webhook",
}


@pytest.fixture(scope="module")
def previous_module_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The offline tree (module, roots) of the previous commit."""
    scratch = tmp_path_factory.mktemp("previous")
    source = tf_tools.checkout(PREVIOUS_COMMIT, scratch / "source")
    return tf_tools.offline_module_tree(scratch / "module", source=source)


@pytest.mark.usefixtures("moto_endpoint")
@pytest.mark.parametrize(
    ("root", "kept"),
    [
        ("moto", {f"{MODULE}.aws_dynamodb_table.this", f"{MODULE}.aws_api_gateway_rest_api.this"}),
        (
            "moto_submit",
            {
                f"{MODULE}.aws_lambda_function.submit[0]",
                f"{MODULE}.aws_iam_role.submit[0]",
                f"{MODULE}.aws_iam_role_policy.submit[0]",
                f"{MODULE}.aws_cloudwatch_log_group.submit[0]",
            },
        ),
    ],
)
def test_a_state_from_before_the_renames_plans_moves_and_nothing_else(
    terraform: str,
    module_tree: Path,
    previous_module_tree: Path,
    tmp_path: Path,
    root: str,
    kept: set[str],
) -> None:
    """Anything the renames missed would plan as a delete plus a create; anything else changed
    as an update. So every resource must be a no-op, the renamed ones moved from their old address.
    """
    state, plan = tmp_path / "terraform.tfstate", tmp_path / "upgrade.tfplan"
    before = _terraform(terraform, previous_module_tree / "roots" / root, tmp_path / "previous")
    before("init", "-input=false")
    before("apply", "-auto-approve", "-input=false", f"-state={state}")
    after = _terraform(terraform, module_tree / "roots" / root, tmp_path / "current")
    after("init", "-input=false")

    after("plan", "-input=false", f"-state={state}", f"-out={plan}")

    changes = [
        change
        for change in json.loads(after("show", "-json", str(plan)))["resource_changes"]
        if change["mode"] == "managed"
    ]
    assert {
        change["address"]: change["change"]["actions"]
        for change in changes
        if change["change"]["actions"] != ["no-op"]
    } == {}
    moved = {c["previous_address"]: c["address"] for c in changes if "previous_address" in c}
    assert moved == MOVES
    assert kept <= {c["address"] for c in changes if "previous_address" not in c}


def _terraform(terraform: str, root: Path, data_dir: Path) -> Callable[..., str]:
    """Run terraform in `root` with its working files in `data_dir`; fail on a non-zero exit."""
    environment = {**os.environ, "TF_DATA_DIR": str(data_dir)}

    def run(*arguments: str) -> str:
        result = tf_tools.run_terraform(terraform, *arguments, cwd=root, env=environment)
        assert result.returncode == 0, f"terraform {arguments[0]} in {root}:\n{result.stderr}"
        return result.stdout

    return run
