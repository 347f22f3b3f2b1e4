"""The README's Inputs and Outputs tables say what variables.tf and outputs.tf say."""

from tests.terraform.tf_tools import REPO
from tools.terraform_docs import render, with_tables


def test_readme_tables_match_the_module() -> None:
    readme = (REPO / "README.md").read_text()

    assert readme == with_tables(readme, render()), "run `make docs`"


def test_every_variable_and_output_has_a_description() -> None:
    tables = render()

    assert "|  |" not in tables
