"""The README's module tables say what the module's .tf files say, as terraform-docs would."""

import re
from pathlib import Path

from tests.terraform.tf_tools import REPO
from tools.terraform_docs import BEGIN, END, main, render, with_tables

EXAMPLE_MODULE = {
    "versions.tf": """
terraform {
  required_version = ">= 1.6"
  required_providers {
    random = { source = "hashicorp/random", version = ">= 3.0" }
    aws    = { source = "hashicorp/aws", version = ">= 5.70" }
  }
}
""",
    "main.tf": """
data "aws_region" "current" {}
resource "aws_sqs_queue" "this" {}
resource "aws_iam_role" "this" {}
module "inner" {
  source  = "terraform-aws-modules/sqs/aws"
  version = "~> 4.0"
}
""",
    "variables.tf": """
variable "name" {
  description = "A name."
  type        = string
}
""",
}


def write_module(directory: Path, readme: str) -> Path:
    for name, text in EXAMPLE_MODULE.items():
        (directory / name).write_text(text)
    (directory / "README.md").write_text(readme)
    return directory


def test_readme_tables_match_the_module() -> None:
    readme = (REPO / "README.md").read_text()

    assert readme == with_tables(readme, render()), "run `make docs`"


def test_every_variable_and_output_has_a_description() -> None:
    tables = render()

    assert "|  |" not in tables


def test_every_resource_and_data_block_of_the_module_is_listed() -> None:
    block = re.compile(r'^(resource|data) "(\w+)" "(\w+)"', re.M)
    row = re.compile(r"^\| \[([\w.]+)\]\(https://[^)]+\) \| (resource|data source) \|$", re.M)
    mode_label = {"resource": "resource", "data": "data source"}
    declared = {
        (f"{type_}.{name}", mode_label[mode])
        for path in REPO.glob("*.tf")
        for mode, type_, name in block.findall(path.read_text())
    }

    listed = set(row.findall(render()))

    assert listed == declared
    assert len(declared) > 10


def test_sections_follow_terraform_docs(tmp_path: Path) -> None:
    tables = render(write_module(tmp_path, f"{BEGIN}\n{END}\n"))

    assert tables.split("\n\n") == [
        "## Requirements",
        "| Name | Version |\n|---|---|\n| `terraform` | >= 1.6 |\n| `aws` | >= 5.70 |\n"
        "| `random` | >= 3.0 |",
        "## Providers",
        "| Name | Version |\n|---|---|\n| `aws` | >= 5.70 |",
        "## Modules",
        "| Name | Source | Version |\n|---|---|---|\n"
        "| `inner` | terraform-aws-modules/sqs/aws | ~> 4.0 |",
        "## Resources",
        "| Name | Type |\n|---|---|\n"
        "| [aws_iam_role.this](https://registry.terraform.io/providers/hashicorp/aws/latest/docs/"
        "resources/iam_role) | resource |\n"
        "| [aws_sqs_queue.this](https://registry.terraform.io/providers/hashicorp/aws/latest/docs/"
        "resources/sqs_queue) | resource |\n"
        "| [aws_region.current](https://registry.terraform.io/providers/hashicorp/aws/latest/docs/"
        "data-sources/region) | data source |",
        "## Inputs",
        "| Name | Description | Type | Default | Required |\n|---|---|---|---|:---:|\n"
        "| `name` | A name. | `string` | n/a | yes |",
        "## Outputs",
        "No outputs.",
    ]


def test_check_fails_on_a_stale_readme_until_make_docs_rewrites_it(tmp_path: Path) -> None:
    stale = f"# Title\n\n{BEGIN}\n## Inputs\n\nold\n{END}\n\nFooter.\n"
    module = write_module(tmp_path, stale)

    assert main(["--check"], root=module) == 1
    assert (module / "README.md").read_text() == stale

    assert main([], root=module) == 0
    rewritten = (module / "README.md").read_text()
    assert rewritten.startswith(f"# Title\n\n{BEGIN}\n## Requirements\n")
    assert rewritten.endswith(f"No outputs.\n{END}\n\nFooter.\n")
    assert main(["--check"], root=module) == 0
