"""Static checks of the module and its examples: fmt, validate, and the `terraform test` suite."""

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.terraform.tf_tools import REPO
from tests.terraform.tf_tools import run_terraform as run


def test_terraform_files_are_formatted(terraform: str) -> None:
    result = run(terraform, "fmt", "-check", "-recursive", "-diff", cwd=REPO)

    assert result.returncode == 0, f"run `make fmt`:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("root", [".", "examples/basic", "examples/complete"])
def test_module_and_examples_validate(
    terraform: str, initialised: Callable[[str], Path], root: str
) -> None:
    validate = run(terraform, "validate", cwd=initialised(root))

    assert validate.returncode == 0, validate.stdout + validate.stderr


def test_terraform_test_suite_passes(terraform: str, initialised: Callable[[str], Path]) -> None:
    """`terraform test` at the module's root, as a user types it, finds tests/*.tftest.hcl."""
    result = run(terraform, "test", cwd=initialised("."))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "tests/module.tftest.hcl... pass" in result.stdout, result.stdout
    assert " 0 failed" in result.stdout, result.stdout
