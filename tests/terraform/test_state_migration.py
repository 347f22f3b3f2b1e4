"""States created by earlier versions of the module upgrade without a loss.

An earlier commit's module is applied to moto through that commit's roots; then this checkout's
module is planned over the same state through this checkout's roots, which call the module
alike: what a user upgrading the module does. Both trees run the same lambda zip, so the plan
shows the Terraform change only. Nothing is destroyed or replaced:

- from before the renames (d28c882): the renamed resources (and the access log group, now
  counted) move, the table gains the watchdog's index in place and, where the submit function
  exists, the watchdog is created beside it;
- from the status-created_at index (d2f1ce3): the table's index is swapped in place for the
  sharded pending_shard-created_at, and the watchdog takes its new memory and record limit.

Both gain the canceller's execution_arn index in place, the dashboard and the saved queries, and
the webhook function takes its entry module's new name (webhook.lambda_handler) in place.
"""

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from localdev import local_aws
from tests.terraform import moto_aws, tf_tools

BEFORE_THE_RENAMES = "d28c882ccb625cbeffae9f6f443f332bb2fb98e8"
WITH_THE_STATUS_INDEX = "d2f1ce376e8a17b01412cdd047d172045f3382dd"
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
# What the watchdog's index projects: what it reads of each stale record.
PROJECTED = ["endpoint_id", "job_id", "runpod_forgets_at", "task_token"]
SHARDED_INDEX = {
    "name": "pending_shard-created_at",
    "hash_key": "pending_shard",
    "range_key": "created_at",
    "projection_type": "INCLUDE",
    "non_key_attributes": PROJECTED,
    "on_demand_throughput": [],
}
# The index the canceller finds a stopped execution's records by.
EXECUTION_INDEX = {
    "name": "execution_arn",
    "hash_key": "execution_arn",
    "range_key": "",
    "projection_type": "INCLUDE",
    "non_key_attributes": ["endpoint_id", "job_id", "status"],
    "on_demand_throughput": [],
}
# The table gains the indexes the watchdog and the canceller query: new key attributes and the
# indexes, nothing else.
TABLE_CHANGE = {
    "attribute": (
        [{"name": "callback_token", "type": "S"}],
        [
            {"name": "callback_token", "type": "S"},
            {"name": "created_at", "type": "S"},
            {"name": "execution_arn", "type": "S"},
            {"name": "pending_shard", "type": "S"},
        ],
    ),
    "global_secondary_index": ([], [EXECUTION_INDEX, SHARDED_INDEX]),
}
# What an operator reads: the dashboard and the saved Logs Insights queries, new everywhere.
OBSERVABILITY = {f"{MODULE}.aws_cloudwatch_dashboard.this[0]"} | {
    f'{MODULE}.aws_cloudwatch_query_definition.this["{name}"]'
    for name in ("failures-by-outcome", "one-job", "slowest-jobs")
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
# (docs/scale.md): an update in place of its method settings, throttling and nothing else.
METHOD_SETTINGS = f"{MODULE}.aws_api_gateway_method_settings.all"
# The webhook's entry module is named for its role (webhook.py, was handler.py): its one change.
WEBHOOK_FUNCTION = f"{MODULE}.aws_lambda_function.webhook"
HANDLER_CHANGE = {"handler": ("handler.lambda_handler", "webhook.lambda_handler")}
THROTTLING_CHANGE = {
    "throttling_burst_limit": (100, 500),
    "throttling_rate_limit": (50, 100),
}
WEBHOOK_POLICY = f"{MODULE}.aws_iam_role_policy.webhook"
SUBMIT_POLICY = f"{MODULE}.aws_iam_role_policy.submit[0]"


def earlier_module_tree(commit: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The offline tree (module, roots) of an earlier commit."""
    scratch = tmp_path_factory.mktemp(commit[:7])
    source = tf_tools.checkout(commit, scratch / "source")
    return tf_tools.offline_module_tree(scratch / "module", source=source)


@pytest.fixture(autouse=True)
def fresh_moto(moto_endpoint: str) -> None:
    """Each upgrade applies an earlier root of the same names: to a moto that holds nothing but
    the AWS-managed layer."""
    local_aws.reset_local_aws(moto_endpoint)
    moto_aws.publish_powertools_layer(moto_endpoint)


@pytest.fixture(scope="module")
def previous_module_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return earlier_module_tree(BEFORE_THE_RENAMES, tmp_path_factory)


@pytest.fixture(scope="module")
def status_index_module_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return earlier_module_tree(WITH_THE_STATUS_INDEX, tmp_path_factory)


# One class per upgrade: pytest-xdist (--dist loadscope) runs them on different workers.
class TestTheModuleAlone:
    def test_a_state_from_before_the_renames_upgrades_in_place(
        self, terraform: str, module_tree: Path, previous_module_tree: Path, tmp_path: Path
    ) -> None:
        upgrade_from_before_the_renames(
            terraform,
            module_tree,
            previous_module_tree,
            tmp_path,
            root="moto",
            kept={TABLE, f"{MODULE}.aws_api_gateway_rest_api.this"},
            reread={WEBHOOK_POLICY},
            created=OBSERVABILITY,
        )


class TestTheModuleWithTheSubmitFunction:
    def test_a_state_from_before_the_renames_upgrades_in_place(
        self, terraform: str, module_tree: Path, previous_module_tree: Path, tmp_path: Path
    ) -> None:
        upgrade_from_before_the_renames(
            terraform,
            module_tree,
            previous_module_tree,
            tmp_path,
            root="moto_submit",
            kept={
                f"{MODULE}.aws_lambda_function.submit[0]",
                f"{MODULE}.aws_iam_role.submit[0]",
                SUBMIT_POLICY,
                f"{MODULE}.aws_cloudwatch_log_group.submit[0]",
            },
            reread={WEBHOOK_POLICY, SUBMIT_POLICY},
            created=WATCHDOG | OBSERVABILITY,
        )


def upgrade_from_before_the_renames(
    terraform: str,
    module_tree: Path,
    previous_module_tree: Path,
    tmp_path: Path,
    *,
    root: str,
    kept: set[str],
    reread: set[str],
    created: set[str],
) -> None:
    """Anything the renames missed would plan as a delete plus a create; anything else changed
    as an update. So: the renamed resources move from their old address, the watchdog's are the
    only creates, the table is updated in place with the index and nothing else, the stage's
    method settings with the new throttling defaults and nothing else.

    Terraform reads a policy document whose statements name the table only once the table's
    update is applied, so the roles' policies that name it plan as updates known after apply;
    applying the upgrade proves each comes out as it was, and a plan after it is clean.
    """
    upgrade = Upgrade(terraform, previous_module_tree / "roots" / root, tmp_path, reread)
    changes = upgrade.plan(module_tree / "roots" / root)

    assert {
        address: change["change"]["actions"]
        for address, change in changes.items()
        if change["change"]["actions"] != ["no-op"]
    } == {TABLE: ["update"], METHOD_SETTINGS: ["update"], WEBHOOK_FUNCTION: ["update"]} | {
        address: ["update"] for address in reread
    } | {address: ["create"] for address in created}
    moved = {
        c["previous_address"]: address for address, c in changes.items() if "previous_address" in c
    }
    assert moved == MOVES
    assert kept <= {address for address, c in changes.items() if "previous_address" not in c}
    assert _differences(changes[TABLE]["change"]) == TABLE_CHANGE
    assert _differences(changes[WEBHOOK_FUNCTION]["change"]) == HANDLER_CHANGE
    (settings_before,), (settings_after,) = (
        changes[METHOD_SETTINGS]["change"][moment]["settings"] for moment in ("before", "after")
    )
    assert _differences({"before": settings_before, "after": settings_after}) == THROTTLING_CHANGE
    # The webhook's one change of policy: every path is one conditional UpdateItem.
    upgrade.apply_and_plan_clean(changes, {WEBHOOK_POLICY: without_action("dynamodb:GetItem")})


# The index the watchdog queries: status-created_at, whose one PENDING key took about 1,000 writes
# a second, becomes pending_shard-created_at, spread over 16 keys (docs/scale.md).
SHARDED_INDEX_CHANGE = {
    "attribute": (
        [
            {"name": "callback_token", "type": "S"},
            {"name": "created_at", "type": "S"},
            {"name": "status", "type": "S"},
        ],
        [
            {"name": "callback_token", "type": "S"},
            {"name": "created_at", "type": "S"},
            {"name": "execution_arn", "type": "S"},
            {"name": "pending_shard", "type": "S"},
        ],
    ),
    "global_secondary_index": (
        [
            {
                "name": "status-created_at",
                "hash_key": "status",
                "range_key": "created_at",
                "projection_type": "INCLUDE",
                "non_key_attributes": ["endpoint_id", "job_id", "task_token"],
                "on_demand_throughput": [],
                "read_capacity": 0,
                "write_capacity": 0,
            }
        ],
        [EXECUTION_INDEX, SHARDED_INDEX],
    ),
}
WATCHDOG_FUNCTION = f"{MODULE}.aws_lambda_function.watchdog[0]"
WATCHDOG_POLICY = f"{MODULE}.aws_iam_role_policy.watchdog[0]"
SCHEDULE_POLICY = f"{MODULE}.aws_iam_role_policy.watchdog_schedule[0]"


class TestTheStatusIndex:
    def test_a_state_with_the_status_index_upgrades_in_place(
        self, terraform: str, module_tree: Path, status_index_module_tree: Path, tmp_path: Path
    ) -> None:
        """The index is swapped in place (the table is updated, never replaced: its records stay);
        the watchdog gets its own memory and the new record limit; the roles' policies are read
        again (they name the table, or the watchdog) and the webhook's loses GetItem, the
        watchdog's names the new index. Nothing else changes."""
        reread = {WEBHOOK_POLICY, SUBMIT_POLICY, WATCHDOG_POLICY, SCHEDULE_POLICY}
        root = "moto_submit"
        upgrade = Upgrade(terraform, status_index_module_tree / "roots" / root, tmp_path, reread)

        changes = upgrade.plan(module_tree / "roots" / root)

        assert {
            address: change["change"]["actions"]
            for address, change in changes.items()
            if change["change"]["actions"] != ["no-op"]
        } == {TABLE: ["update"], WATCHDOG_FUNCTION: ["update"], WEBHOOK_FUNCTION: ["update"]} | {
            address: ["update"] for address in reread
        } | {address: ["create"] for address in OBSERVABILITY}
        assert _differences(changes[TABLE]["change"]) == SHARDED_INDEX_CHANGE
        assert _differences(changes[WEBHOOK_FUNCTION]["change"]) == HANDLER_CHANGE
        watchdog = _differences(changes[WATCHDOG_FUNCTION]["change"])
        assert watchdog.pop("memory_size") == (256, 1024)
        (environment_before,), (environment_after,) = watchdog.pop("environment")
        assert _differences({"before": environment_before, "after": environment_after}) == {
            "variables": (
                {**environment_before["variables"], "MAX_RECORDS_PER_RUN": "500"},
                {**environment_before["variables"], "MAX_RECORDS_PER_RUN": "25000"},
            )
        }
        assert watchdog == {}
        (index,) = [
            statement["Resource"]
            for statement in json.loads(upgrade.policies_before[WATCHDOG_POLICY])["Statement"]
            if statement["Sid"] == "FindStaleRecords"
        ]
        upgrade.apply_and_plan_clean(
            changes,
            {
                WEBHOOK_POLICY: without_action("dynamodb:GetItem"),
                WATCHDOG_POLICY: with_resource(
                    index, index.replace("status-created_at", "pending_shard-created_at")
                ),
            },
        )


class Upgrade:
    """An earlier root applied to moto, then this checkout's root planned over its state."""

    def __init__(self, terraform: str, earlier_root: Path, tmp_path: Path, reread: set[str]):
        self._terraform = terraform
        self._state = tmp_path / "terraform.tfstate"
        self._plan = tmp_path / "upgrade.tfplan"
        self._tmp_path = tmp_path
        self._reread = reread
        before = _terraform(terraform, earlier_root, tmp_path / "previous")
        before("init", "-input=false")
        before("apply", "-auto-approve", "-input=false", f"-state={self._state}")
        self.policies_before = _policies(
            json.loads(before("show", "-json", str(self._state))), reread
        )
        self._after: Callable[..., str] | None = None

    def plan(self, root: Path) -> dict[str, Any]:
        """The planned changes of each managed resource, by address."""
        self._after = _terraform(self._terraform, root, self._tmp_path / "current")
        self._after("init", "-input=false")
        self._after("plan", "-input=false", f"-state={self._state}", f"-out={self._plan}")
        return {
            change["address"]: change
            for change in json.loads(self._after("show", "-json", str(self._plan)))[
                "resource_changes"
            ]
            if change["mode"] == "managed"
        }

    def apply_and_plan_clean(
        self, changes: dict[str, Any], changed: dict[str, Callable[[Any], Any]]
    ) -> None:
        """Terraform reads a policy document whose statements name the table only once the
        table's update is applied, so the roles' policies that name it plan as updates known
        after apply; applying the upgrade shows what each becomes: as it was, or as ``changed``
        (by address) makes it of the parsed policy; and a plan after it is clean."""
        assert self._after is not None
        for address in self._reread:
            assert _differences(changes[address]["change"]) == {
                "policy": (self.policies_before[address], None)
            }
            assert changes[address]["change"]["after_unknown"] == {"policy": True}

        self._after("apply", "-input=false", f"-state={self._state}", str(self._plan))

        state = json.loads(self._after("show", "-json", str(self._state)))
        policies = _policies(state, self._reread)
        assert {address: json.loads(policy) for address, policy in policies.items()} == {
            address: changed.get(address, _unchanged)(json.loads(policy))
            for address, policy in self.policies_before.items()
        }
        self._after("plan", "-detailed-exitcode", "-input=false", f"-state={self._state}")


def _unchanged(policy: Any) -> Any:
    return policy


def without_action(action: str) -> Callable[[Any], Any]:
    """The policy with one action taken out of its statements."""

    def change(policy: Any) -> Any:
        for statement in policy["Statement"]:
            actions = [a for a in _as_list(statement["Action"]) if a != action]
            statement["Action"] = actions[0] if len(actions) == 1 else actions
        return policy

    return change


def with_resource(old: str, new: str) -> Callable[[Any], Any]:
    """The policy with one resource in place of another."""

    def change(policy: Any) -> Any:
        for statement in policy["Statement"]:
            if statement["Resource"] == old:
                statement["Resource"] = new
        return policy

    return change


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


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


def _policies(state: dict[str, Any], addresses: set[str]) -> dict[str, str]:
    """The `policy` of each role policy at `addresses` (or moved there) in a `show -json` state."""
    (module,) = state["values"]["root_module"]["child_modules"]
    policies = {
        MOVES.get(resource["address"], resource["address"]): resource["values"].get("policy")
        for resource in module["resources"]
    }
    return {address: policies[address] for address in addresses}


def _terraform(terraform: str, root: Path, data_dir: Path) -> Callable[..., str]:
    """Run terraform in `root` with its working files in `data_dir`; fail on a non-zero exit."""
    environment = {**os.environ, "TF_DATA_DIR": str(data_dir)}

    def run(*arguments: str) -> str:
        result = tf_tools.run_terraform(terraform, *arguments, cwd=root, env=environment)
        assert result.returncode == 0, (
            f"terraform {arguments[0]} in {root}:\n{result.stdout[-3000:]}\n{result.stderr}"
        )
        return result.stdout

    return run
