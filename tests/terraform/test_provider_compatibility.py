"""The module and its examples stay clean on hashicorp/aws 5.x and 6.x.

Two checks. The first reads the .tf files (no terraform needed) for what the v6 upgrade guide
removes or deprecates among the resources used here, and for what 5.x already deprecates: a 5.x
plan cannot see the 6.x deprecations. The second plans the examples and a root with every option
on against the real 5.x provider from the mirror and fails on any warning (deprecated arguments,
deprecated attribute references, anything else Terraform or the provider warns about). The
mock_provider `terraform test` would not do: it covers the module without the examples, and a
mock answers planning itself (terraform's internal/providers/mock.go), so warnings the provider
raises while planning never show.
"""

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import hcl2
import pytest
from lark import Token, Tree

from tests.terraform.tf_tools import REPO
from tests.terraform.tf_tools import run_terraform as run

UPGRADE_GUIDE = (
    "https://registry.terraform.io/providers/hashicorp/aws/latest/docs/guides/version-6-upgrade"
)


@dataclass(frozen=True)
class Reference:
    """A reference such as `data.aws_region.current.name`; indexes read `[]`, splats `[*]`."""

    pattern: str
    source: str


@dataclass(frozen=True)
class Argument:
    """An argument or nested block (`path`) of every block labelled `block`."""

    block: tuple[str, str]
    path: tuple[str, ...]
    source: str


NAME = r"[A-Za-z_][\w-]*(\[\*?\])?"
# Deliberately not listed: aws_dynamodb_table's global_secondary_index.hash_key and range_key
# (dynamodb.tf). 6.29.0 deprecates them for nested key_schema blocks, which 5.x does not have; the
# old form is the only one both majors accept, and 6.29+ plans it with a deprecation warning.
DEPRECATED: list[Reference | Argument] = [
    Reference(
        rf"data\.aws_region\.{NAME}\.name",
        f"{UPGRADE_GUIDE}#data-source-aws_region: `name` deprecated in 6.0; 5.x has no `region`,"
        " so use `id`",
    ),
    Argument(
        ("data", "aws_region"),
        ("name",),
        f"{UPGRADE_GUIDE}#data-source-aws_region: `name` deprecated in 6.0",
    ),
    Reference(
        rf"data\.aws_partition\.{NAME}\.id",
        "https://registry.terraform.io/providers/hashicorp/aws/latest/docs/data-sources/partition:"
        " `id` deprecated in 6.x, use `partition`",
    ),
    Reference(
        rf"aws_api_gateway_deployment\.{NAME}"
        r"\.(invoke_url|execution_arn|stage_name|stage_description|canary_settings)",
        f"{UPGRADE_GUIDE}#resource-aws_api_gateway_deployment: removed in 6.0;"
        " read them from aws_api_gateway_stage",
    ),
    *(
        Argument(
            ("resource", "aws_api_gateway_deployment"),
            (name,),
            f"{UPGRADE_GUIDE}#resource-aws_api_gateway_deployment: removed in 6.0;"
            " use aws_api_gateway_stage",
        )
        for name in ("stage_name", "stage_description", "canary_settings")
    ),
    Argument(
        ("resource", "aws_api_gateway_account"),
        ("reset_on_delete",),
        f"{UPGRADE_GUIDE}#resource-aws_api_gateway_account: removed in 6.0",
    ),
    *(
        Argument(
            ("resource", "aws_iam_role"),
            (name,),
            "deprecated in 5.x (`terraform providers schema` of 5.100); use aws_iam_role_policy"
            " and aws_iam_role_policy_attachment",
        )
        for name in ("inline_policy", "managed_policy_arns")
    ),
    *(
        Argument(
            ("data", "aws_iam_policy_document"),
            (name,),
            "deprecated in 5.x (`terraform providers schema` of 5.100);"
            " use source_policy_documents / override_policy_documents",
        )
        for name in ("source_json", "override_json")
    ),
    *(
        Argument(
            ("provider", "aws"),
            ("endpoints", name),
            f"{UPGRADE_GUIDE}#removed-provider-arguments: removed in 6.0",
        )
        for name in ("opsworks", "simpledb", "sdb", "worklink")
    ),
    Argument(
        ("provider", "aws"),
        ("s3_us_east_1_regional_endpoint",),
        f"{UPGRADE_GUIDE}#s3-global-endpoint-deprecation: deprecated in 6.0",
    ),
]


def terraform_files() -> list[Path]:
    """The module, the examples and everything the Terraform tests plan or apply."""
    patterns = ["*.tf", "examples/**/*.tf", "tests/terraform/**/*.tf", "tests/*.tftest.hcl"]
    found = {path for pattern in patterns for path in REPO.glob(pattern)}
    return sorted(path for path in found if ".terraform" not in path.parts)


def findings(text: str, rules: list[Reference | Argument]) -> list[tuple[int, str, str]]:
    """(line, what, source) for every use of a rule in the HCL text."""
    tree = hcl2.parses_to_tree(text)
    found = [
        (node.meta.line, path, rule.source)
        for node in tree.iter_subtrees()
        if node.data != "expr_term" and (path := _traversal(node)) is not None
        for rule in rules
        if isinstance(rule, Reference) and re.fullmatch(rule.pattern, path)
    ]
    body = tree.children[0]
    for rule in rules:
        if isinstance(rule, Argument):
            for block in _children(body, "block"):
                if tuple(_labels(block)[:2]) == rule.block:
                    found.extend(
                        (line, ".".join((*rule.block, *rule.path)), rule.source)
                        for line in _lines_of(block, rule.path)
                    )
    return sorted(found)


def _traversal(node: Tree[Token]) -> str | None:
    match node.data:
        case "expr_term" if len(node.children) == 1 and isinstance(node.children[0], Tree):
            return _traversal(node.children[0])
        case "identifier":
            return str(node.children[0])
        case "get_attr_expr_term":
            head = _traversal(node.children[0])
            return None if head is None else f"{head}.{_attribute(node.children[1])}"
        case "index_expr_term":
            head = _traversal(node.children[0])
            return None if head is None else f"{head}[]"
        case "full_splat_expr_term" | "attr_splat_expr_term":
            head = _traversal(node.children[0])
            splat = node.children[1]
            assert isinstance(splat, Tree)
            rest = "".join(
                f".{_attribute(step)}"
                for step in splat.children
                if isinstance(step, Tree) and step.data == "get_attr"
            )
            return None if head is None else f"{head}[*]{rest}"
    return None


def _attribute(get_attr: Tree[Token] | Token) -> str:
    assert isinstance(get_attr, Tree)
    name = get_attr.children[-1]
    assert isinstance(name, Tree)
    return str(name.children[0])


def _children(node: Tree[Token] | Token, data: str) -> Iterator[Tree[Token]]:
    assert isinstance(node, Tree)
    yield from (child for child in node.children if isinstance(child, Tree) and child.data == data)


def _labels(block: Tree[Token]) -> list[str]:
    """`resource "aws_iam_role" "this"` gives resource, aws_iam_role, this."""
    labels = []
    for child in block.children:
        if isinstance(child, Tree) and child.data == "identifier":
            labels.append(str(child.children[0]))
        elif isinstance(child, Tree) and child.data == "string":
            labels.append("".join(str(part.children[0]) for part in child.find_data("string_part")))
    return labels


def _lines_of(block: Tree[Token], path: tuple[str, ...]) -> Iterator[int]:
    name, *rest = path
    for child in (node for body in _children(block, "body") for node in body.children):
        if not isinstance(child, Tree):
            continue
        if child.data == "attribute" and not rest and _name_of(child) == name:
            yield child.meta.line
        elif child.data == "block" and _labels(child)[:1] == [name]:
            yield from _lines_of(child, tuple(rest)) if rest else iter([child.meta.line])
        elif child.data == "block" and _labels(child)[:2] == ["dynamic", name] and not rest:
            yield child.meta.line


def _name_of(attribute: Tree[Token]) -> str:
    key = attribute.children[0]
    assert isinstance(key, Tree)
    return str(key.children[0])


def test_no_file_uses_what_provider_6_deprecates_or_removes() -> None:
    files = terraform_files()
    assert REPO / "main.tf" in files
    assert REPO / "examples" / "complete" / "main.tf" in files
    assert REPO / "tests" / "module.tftest.hcl" in files

    used = [
        f"{path.relative_to(REPO)}:{line}: {what} ({source})"
        for path in files
        for line, what, source in findings(path.read_text(), DEPRECATED)
    ]

    assert used == [], "\n".join(used)


OFFENDING = """\
data "aws_region" "current" {
  name = "eu-west-1"
}

locals {
  region    = data.aws_region.current.name
  regions   = "${data.aws_region.other[0].name}-${data.aws_region.all[*].name}"
  partition = data.aws_partition.current.id
  url       = aws_api_gateway_deployment.this.invoke_url
}

resource "aws_api_gateway_deployment" "this" {
  stage_name = "v1"

  canary_settings {
    percent_traffic = 10
  }
}

resource "aws_iam_role" "this" {
  dynamic "inline_policy" {
    for_each = []
    content {}
  }
}

provider "aws" {
  endpoints {
    opsworks = "http://localhost"
  }
}
"""

CLEAN = """\
# data.aws_region.current.name is deprecated: this comment names it and must not count.
data "aws_region" "current" {}

locals {
  name   = var.name
  region = data.aws_region.current.id
  label  = "data.aws_region.current.name"
  stage  = aws_api_gateway_stage.this.stage_name
  nested = { name = data.aws_region.current.description }
}

resource "aws_api_gateway_stage" "this" {
  stage_name = "v1"

  canary_settings {
    percent_traffic = 10
  }
}

resource "aws_api_gateway_method_settings" "all" {
  stage_name = aws_api_gateway_stage.this.stage_name
}

resource "aws_iam_role_policy" "this" {
  name = "inline_policy"
}

provider "aws" {
  endpoints {
    apigateway = "http://localhost"
  }
}
"""


def test_the_scan_reports_each_deprecated_use_with_its_line() -> None:
    found = [(line, what) for line, what, _ in findings(OFFENDING, DEPRECATED)]

    assert found == [
        (2, "data.aws_region.name"),
        (6, "data.aws_region.current.name"),
        (7, "data.aws_region.all[*].name"),
        (7, "data.aws_region.other[].name"),
        (8, "data.aws_partition.current.id"),
        (9, "aws_api_gateway_deployment.this.invoke_url"),
        (13, "resource.aws_api_gateway_deployment.stage_name"),
        (15, "resource.aws_api_gateway_deployment.canary_settings"),
        (21, "resource.aws_iam_role.inline_policy"),
        (29, "provider.aws.endpoints.opsworks"),
    ]


def test_the_scan_ignores_look_alikes() -> None:
    assert findings(CLEAN, DEPRECATED) == []


# Planning new resources and these data sources calls no AWS API, so the examples plan offline
# with fake credentials (an override file, written into the scratch copy only). A call would
# fail the plan: there is no network.
OFFLINE_PROVIDER = """\
provider "aws" {
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
}
"""
PLANNED_ROOTS = {
    "examples/basic": [],
    "examples/complete": ["-var=runpod_api_key=rp_test", "-var=runpod_endpoint_id=endpoint"],
    # roots/every_option has the moto provider; its endpoint is never called.
    "roots/every_option": ["-var=aws_endpoint=http://127.0.0.1:9"],
}


@pytest.mark.parametrize("root", PLANNED_ROOTS)
def test_plan_with_provider_5_has_no_warnings(
    terraform: str, module_tree: Path, initialised: Callable[[str], Path], root: str
) -> None:
    if root.startswith("examples/"):
        (module_tree / root / "offline_provider_override.tf").write_text(OFFLINE_PROVIDER)
    directory = initialised(root)

    plan = run(terraform, "plan", "-json", "-input=false", *PLANNED_ROOTS[root], cwd=directory)

    messages = [json.loads(line) for line in plan.stdout.splitlines() if line.startswith("{")]
    diagnostics = [message["diagnostic"] for message in messages if message["type"] == "diagnostic"]
    assert plan.returncode == 0, "\n".join(map(_describe, diagnostics)) or plan.stderr
    summaries = [message["changes"] for message in messages if message["type"] == "change_summary"]
    assert [summary["add"] > 0 for summary in summaries] == [True], plan.stdout
    warnings = [_describe(diagnostic) for diagnostic in diagnostics]
    assert warnings == [], "\n".join(warnings)


def _describe(diagnostic: dict[str, object]) -> str:
    where = diagnostic.get("range")
    location = f"{where['filename']}:{where['start']['line']}" if isinstance(where, dict) else "-"
    return f"{location}: {diagnostic['severity']}: {diagnostic['summary']}: {diagnostic['detail']}"
