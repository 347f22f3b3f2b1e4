"""The Terraform tests' harness: an offline copy of the module (tools/terraform_offline.py) with
its `terraform test` files and the moto roots, earlier versions of it, and terraform run as a
test step (a missing tool fails under CI=true, else skips saying why).
"""

import io
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from tools.terraform_offline import (
    REPO,
    cli_config,
    offline_module,
    provider_mirror,
    run_terraform,
    terraform_binary,
)

__all__ = ["REPO", "cli_config", "provider_mirror", "run_terraform", "terraform_binary"]

EXAMPLE_ROOT_PREFIX = "example_"
# The harness files that point a root at moto: always this checkout's, whatever the root.
MOTO_FILES = REPO / "tests" / "terraform" / "roots"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(reason: str, *, module_level: bool = False) -> None:
    """Under CI a missing tool is a failure; elsewhere the test is skipped, saying why."""
    if in_ci():
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=module_level)


def checked_terraform(
    terraform: str, *arguments: str, cwd: Path, env: dict[str, str] | None = None
) -> str:
    """Run terraform, failing the test on a non-zero exit; returns what it printed."""
    result = run_terraform(terraform, *arguments, cwd=cwd, env=env)
    assert result.returncode == 0, (
        f"terraform {arguments[0]} in {cwd}:\n{result.stdout[-3000:]}\n{result.stderr}"
    )
    return result.stdout


def checkout(commit: str, destination: Path) -> Path:
    """This repository's files as they were at `commit`, unpacked into `destination`."""
    git = shutil.which("git")
    if git is None:
        unavailable("no git binary to unpack an earlier version of the module")
    assert git is not None
    archive = subprocess.run(
        [git, "-C", str(REPO), "archive", "--format=tar", commit],
        capture_output=True,
        check=False,
    )
    if archive.returncode != 0:
        unavailable(f"commit {commit} is not in this clone: {archive.stderr.decode().strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as files:
        files.extractall(destination, filter="data")
    return destination


def offline_module_tree(destination: Path, source: Path = REPO) -> Path:
    """The offline module copy plus its `terraform test` files (in tests/, where `terraform test`
    looks) and the moto roots, each pointed at moto."""
    offline_module(destination, source)
    (destination / "tests").mkdir()
    for test_file in (source / "tests").glob("*.tftest.hcl"):
        shutil.copy2(test_file, destination / "tests" / test_file.name)
    roots = shutil.copytree(source / "tests" / "terraform" / "roots", destination / "roots")
    for root in (path for path in roots.iterdir() if path.is_dir()):
        _point_at_moto(root, examples=destination / "examples")
    return destination


def _point_at_moto(root: Path, examples: Path) -> None:
    """A root applied to moto; `example_<name>` is examples/<name> plus the files in its directory.

    An example keeps its own provider block: the moto settings merge into it as an override file.
    """
    provider_file = "moto_provider.tf"
    if root.name.startswith(EXAMPLE_ROOT_PREFIX):
        example = examples / root.name.removeprefix(EXAMPLE_ROOT_PREFIX)
        shutil.copytree(example, root, dirs_exist_ok=True)
        provider_file = "moto_provider_override.tf"
    shutil.copy2(MOTO_FILES / "moto_endpoint.tf", root / "moto_endpoint.tf")
    shutil.copy2(MOTO_FILES / "moto_provider.tf", root / provider_file)


def plan_again(terraform: str, root: Path) -> subprocess.CompletedProcess[str]:
    """`plan -detailed-exitcode` of an applied root: 0 means no changes."""
    return run_terraform(terraform, "plan", "-detailed-exitcode", "-input=false", cwd=root)
