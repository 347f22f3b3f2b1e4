"""A state created by the module before resources were named by role upgrades without a loss.

The module of commit d28c882 (main before the renames) is applied to moto through the roots of
that commit; then this checkout's module is planned over the same state through this checkout's
roots, which call the module alike and read its renamed outputs: what a user upgrading the
module does. Both trees run the same lambda zip, so the plan shows the Terraform change only:
the renamed resources (and the access log group, now counted) move, the table gains the
watchdog's index in place and, where the submit function exists, the watchdog is created beside
it. Nothing is destroyed or replaced.
"""

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.terraform import tf_tools

PREVIOUS_COMMIT = "d28c882ccb625cbeffae9f6f443f332bb2fb98e8"  # main before the renames
MODULE = "module.runpod_webhook"
# The webhook function's resources, renamed by role, and the access log group, counted since
# access logs can be switched off (migrations.tf); the submit function's resources and the other
# shared ones keep their addresses.
MOVES = {
    f"{MODULE}.aws_lambda_function.this": f"{MODULE}.aws_lambda_function.webhook",
    f"{MODULE}.aws_cloudwatch_log_group.lambda": f"{MODULE}.aws_cloudwatch_log_group.webhook",
    f"{MODULE}.aws_iam_role.this": f"{MODULE}.aws_iam_role.webhook",
    f"{MODULE}.aws_iam_role_policy.this": f"{MODULE}.aws_iam_role_policy.webhook",
    f"{MODULE}.aws_cloudwatch_log_group.api_access": (
        f"{MODULE}.aws_cloudwatch_log_group.api_access[0]"
    ),
}
TABLE = f"{MODULE}.aws_dynamodb_table.this"
# The table gains the index the watchdog queries: new key attributes and the index, nothing else.
TABLE_CHANGE = {
    "attribute": (
        [{"name": "callback_token", "type": "S"}],
        [
            {"name": "callback_token", "type": "S"},
            {"name": "created_at", "type": "S"},
            {"name": "status", "type": "S"},
        ],
    ),
    "global_secondary_index": (
        [],
        [
            {
                "name": "status-created_at",
                "hash_key": "status",
                "range_key": "created_at",
                "projection_type": "INCLUDE",
                "non_key_attributes": ["endpoint_id", "job_id", "task_token"],
                "on_demand_throughput": [],
            }
        ],
    ),
}
# The watchdog's resources: new, created on upgrade wherever the submit function exists.
WATCHDOG = {
    f"{MODULE}.{resource}[0]"
    for resource in (
        "aws_lambda_function.watchdog",
        "aws_cloudwatch_log_group.watchdog",
        "aws_lambda_function_event_invoke_config.watchdog",
        "aws_iam_role.watchdog",
        "aws_iam_role_policy.watchdog",
        "aws_scheduler_schedule.watchdog",
        "aws_iam_role.watchdog_schedule",
        "aws_iam_role_policy.watchdog_schedule",
    )
}
# The stage's throttling defaults went from a bucket of 100 refilled at 50/s to 500 at 100/s
# (README, Scale): an update in place of its method settings, throttling and nothing else.
METHOD_SETTINGS = f"{MODULE}.aws_api_gateway_method_settings.all"
THROTTLING_CHANGE = {
    "throttling_burst_limit": (100, 500),
    "throttling_rate_limit": (50, 100),
}
WEBHOOK_POLICY = f"{MODULE}.aws_iam_role_policy.webhook"
SUBMIT_POLICY = f"{MODULE}.aws_iam_role_policy.submit[0]"


@pytest.fixture(scope="module")
def previous_module_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The offline tree (module, roots) of the previous commit."""
    scratch = tmp_path_factory.mktemp("previous")
    source = tf_tools.checkout(PREVIOUS_COMMIT, scratch / "source")
    return tf_tools.offline_module_tree(scratch / "module", source=source)


@pytest.mark.usefixtures("moto_endpoint")
class Upgrade:
    """An upgrade of a state `root` applied by the previous module (one subclass per root, so that
    pytest-xdist, with --dist loadscope, can run the upgrades on different workers)."""

    root: str
    kept: frozenset[str]
    """Resources that keep their address."""
    reread: frozenset[str]
    """Role policies whose document Terraform reads again once the table is updated."""
    created: frozenset[str]

    def test_a_state_from_before_the_renames_upgrades_in_place(
        self, terraform: str, module_tree: Path, previous_module_tree: Path, tmp_path: Path
    ) -> None:
        """Anything the renames missed would plan as a delete plus a create; anything else changed
        as an update. So: the renamed resources move from their old address, the watchdog's are the
        only creates, the table is updated in place with the index and nothing else, the stage's
        method settings with the new throttling defaults and nothing else.

        Terraform reads a policy document whose statements name the table only once the table's
        update is applied, so the roles' policies that name it plan as updates known after apply;
        applying the upgrade proves each comes out as it was, and a plan after it is clean.
        """
        state, plan = tmp_path / "terraform.tfstate", tmp_path / "upgrade.tfplan"
        before = _terraform(
            terraform, previous_module_tree / "roots" / self.root, tmp_path / "previous"
        )
        before("init", "-input=false")
        before("apply", "-auto-approve", "-input=false", f"-state={state}")
        policies_before = _policies(state, self.reread)
        after = _terraform(terraform, module_tree / "roots" / self.root, tmp_path / "current")
        after("init", "-input=false")

        after("plan", "-input=false", f"-state={state}", f"-out={plan}")

        changes = {
            change["address"]: change
            for change in json.loads(after("show", "-json", str(plan)))["resource_changes"]
            if change["mode"] == "managed"
        }
        assert {
            address: change["change"]["actions"]
            for address, change in changes.items()
            if change["change"]["actions"] != ["no-op"]
        } == {TABLE: ["update"], METHOD_SETTINGS: ["update"]} | {
            address: ["update"] for address in self.reread
        } | {address: ["create"] for address in self.created}
        moved = {
            c["previous_address"]: address
            for address, c in changes.items()
            if "previous_address" in c
        }
        assert moved == MOVES
        assert self.kept <= {
            address for address, c in changes.items() if "previous_address" not in c
        }
        assert _differences(changes[TABLE]["change"]) == TABLE_CHANGE
        (settings_before,), (settings_after,) = (
            changes[METHOD_SETTINGS]["change"][moment]["settings"] for moment in ("before", "after")
        )
        assert (
            _differences({"before": settings_before, "after": settings_after}) == THROTTLING_CHANGE
        )
        for address in self.reread:
            assert _differences(changes[address]["change"]) == {
                "policy": (policies_before[address], None)
            }
            assert changes[address]["change"]["after_unknown"] == {"policy": True}

        after("apply", "-input=false", f"-state={state}", str(plan))

        assert _policies(state, self.reread) == policies_before
        after("plan", "-detailed-exitcode", "-input=false", f"-state={state}")


class TestTheModuleAlone(Upgrade):
    root = "moto"
    kept = frozenset({TABLE, f"{MODULE}.aws_api_gateway_rest_api.this"})
    reread = frozenset({WEBHOOK_POLICY})
    created = frozenset()


class TestTheModuleWithTheSubmitFunction(Upgrade):
    root = "moto_submit"
    kept = frozenset(
        {
            f"{MODULE}.aws_lambda_function.submit[0]",
            f"{MODULE}.aws_iam_role.submit[0]",
            SUBMIT_POLICY,
            f"{MODULE}.aws_cloudwatch_log_group.submit[0]",
        }
    )
    reread = frozenset({WEBHOOK_POLICY, SUBMIT_POLICY})
    created = frozenset(WATCHDOG)


def _differences(change: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The attributes whose planned value differs, as (before, after) with every list sorted, so
    sets compare as sets. A value known only after apply is absent from `after` (None here).
    """
    before, after = change["before"], change["after"]
    differences = {
        name: (_sorted(before.get(name)), _sorted(after.get(name)))
        for name in before.keys() | after.keys()
    }
    return {name: values for name, values in differences.items() if values[0] != values[1]}


def _sorted(value: Any) -> Any:
    """A planned value with every list in a stable order."""
    if isinstance(value, dict):
        return {key: _sorted(item) for key, item in value.items()}
    if isinstance(value, list):
        return sorted((_sorted(item) for item in value), key=json.dumps)
    return value


def _policies(state_file: Path, addresses: frozenset[str]) -> dict[str, str]:
    """The `policy` of each role policy at `addresses` (or moved there), read from the state file
    itself: `terraform show -json` would start the provider for it."""
    policies = {
        MOVES.get(address, address): attributes.get("policy")
        for address, attributes in _managed_instances(json.loads(state_file.read_text()))
    }
    return {address: policies[address] for address in addresses}


def _managed_instances(state: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(address, attributes) of each managed resource instance in a state file (format 4)."""
    for resource in state["resources"]:
        if resource["mode"] != "managed":
            continue
        address = ".".join(
            filter(None, [resource.get("module"), resource["type"], resource["name"]])
        )
        for instance in resource["instances"]:
            index = f"[{json.dumps(instance['index_key'])}]" if "index_key" in instance else ""
            yield address + index, instance["attributes"]


def _terraform(terraform: str, root: Path, data_dir: Path) -> Callable[..., str]:
    """Run terraform in `root` with its working files in `data_dir`; fail on a non-zero exit."""
    environment = {**os.environ, "TF_DATA_DIR": str(data_dir)}

    def run(*arguments: str) -> str:
        return tf_tools.checked_terraform(terraform, *arguments, cwd=root, env=environment)

    return run
