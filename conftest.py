"""pytest-terraform aborts a run when terraform is not on PATH: load it only when it is."""

from tests.terraform.tf_tools import terraform_binary

pytest_plugins = ["pytest_terraform.plugin"] if terraform_binary() else []
