"""Static checks of the module and its examples: fmt, validate, and the `terraform test` suite."""

from pathlib import Path

import pytest

from tests.terraform.tf_tools import REPO
from tests.terraform.tf_tools import run_terraform as run


def test_terraform_files_are_formatted(terraform: str) -> None:
    result = run(terraform, "fmt", "-check", "-recursive", "-diff", cwd=REPO)

    assert result.returncode == 0, f"run `make fmt`:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("root", [".", "examples/basic", "examples/complete"])
def test_module_and_examples_validate(terraform: str, module_tree: Path, root: str) -> None:
    directory = module_tree / root
    init = run(terraform, "init", "-backend=false", "-input=false", cwd=directory)
    assert init.returncode == 0, init.stdout + init.stderr

    validate = run(terraform, "validate", cwd=directory)

    assert validate.returncode == 0, validate.stdout + validate.stderr


def test_terraform_test_suite_passes(terraform: str, module_tree: Path) -> None:
    """`terraform test` at the module's root, as a user types it, finds tests/*.tftest.hcl."""
    init = run(terraform, "init", "-backend=false", "-input=false", cwd=module_tree)
    assert init.returncode == 0, init.stdout + init.stderr

    result = run(terraform, "test", cwd=module_tree)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "tests/module.tftest.hcl... pass" in result.stdout, result.stdout
    assert " 0 failed" in result.stdout, result.stdout
