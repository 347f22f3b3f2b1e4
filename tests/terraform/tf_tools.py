"""Find terraform and the hashicorp/aws provider mirror; lay out an offline copy of the module
(this checkout's, or an earlier commit's); run terraform; ready moto to stand in for AWS.

No machine paths: TERRAFORM / TF_PLUGIN_DIR override, else PATH and a bounded search.
"""

import io
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from localdev.lambda_zip import build_lambda_zip

REPO = Path(__file__).resolve().parents[2]
PROVIDER = Path("registry.terraform.io", "hashicorp", "aws")
# Terraform's own implicit mirror locations, then shallow roots where images put mirrors.
IMPLICIT_MIRRORS = [
    Path.home() / ".terraform.d" / "plugins",
    Path.home() / ".local" / "share" / "terraform" / "plugins",
    Path("/usr/local/share/terraform/plugins"),
    Path("/usr/share/terraform/plugins"),
]
SEARCH_ROOTS = [Path("/opt"), Path("/usr/local"), Path("/srv"), Path.home()]
SEARCH_DEPTH = 3

EXAMPLE_ROOT_PREFIX = "example_"
# The harness files that point a root at moto: always this checkout's, whatever the root.
MOTO_FILES = REPO / "tests" / "terraform" / "roots"

PACKAGE_DOUBLE = """\
# Test double of package.tf: hashicorp/archive is not available offline, so the test builds
# lambda.zip from lambda/ in Python (localdev/lambda_zip.py) and this file exposes it.
locals {
  lambda_zip_path = "${path.module}/lambda.zip"
  lambda_zip_hash = filebase64sha256("${path.module}/lambda.zip")
}
"""


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def unavailable(reason: str, *, module_level: bool = False) -> None:
    """Under CI a missing tool is a failure; elsewhere the test is skipped, saying why."""
    if in_ci():
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason, allow_module_level=module_level)


def terraform_binary() -> str | None:
    return os.environ.get("TERRAFORM") or shutil.which("terraform")


def provider_mirror() -> Path | None:
    """A directory holding registry.terraform.io/hashicorp/aws/<version>/<os_arch>/."""
    override = os.environ.get("TF_PLUGIN_DIR")
    if override:
        return Path(override) if (Path(override) / PROVIDER).is_dir() else None
    for candidate in IMPLICIT_MIRRORS:
        if (candidate / PROVIDER).is_dir():
            return candidate
    for root in SEARCH_ROOTS:
        for directory in _directories(root, SEARCH_DEPTH):
            if (directory / PROVIDER).is_dir():
                return directory
    return None


def _directories(root: Path, depth: int) -> Iterator[Path]:
    if depth < 0 or not root.is_dir():
        return
    yield root
    try:
        children = sorted(child for child in root.iterdir() if child.is_dir())
    except OSError:
        return
    for child in children:
        if not child.is_symlink() and not child.name.startswith("."):
            yield from _directories(child, depth - 1)


def cli_config(mirror: Path, destination: Path) -> Path:
    """A CLI config that installs every provider from the mirror and nothing from the network."""
    destination.write_text(
        "provider_installation {\n"
        f'  filesystem_mirror {{\n    path    = "{mirror}"\n'
        '    include = ["registry.terraform.io/hashicorp/*"]\n  }\n'
        "}\n"
    )
    return destination


def run_terraform(
    terraform: str, *arguments: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [terraform, *arguments, "-no-color"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


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
    """Copy the module, its examples, its `terraform test` files (in tests/, where `terraform test`
    looks) and the moto roots; swap package.tf for the double.

    `source` is this checkout, or an earlier version of it unpacked elsewhere; the zip is built
    from this checkout's lambda/ either way, so two trees differ in their Terraform only.
    """
    destination.mkdir(parents=True)
    for path in source.glob("*.tf"):
        shutil.copy2(path, destination / path.name)
    shutil.copytree(source / "examples", destination / "examples", ignore=_ignore_working_files)
    (destination / "tests").mkdir()
    for test_file in (source / "tests").glob("*.tftest.hcl"):
        shutil.copy2(test_file, destination / "tests" / test_file.name)
    roots = shutil.copytree(source / "tests" / "terraform" / "roots", destination / "roots")
    for root in (path for path in roots.iterdir() if path.is_dir()):
        _point_at_moto(root, examples=destination / "examples")
    (destination / "package.tf").write_text(PACKAGE_DOUBLE)
    versions = (destination / "versions.tf").read_text()
    (destination / "versions.tf").write_text(_without_archive_provider(versions))
    build_lambda_zip(destination / "lambda.zip")
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


def _without_archive_provider(versions_tf: str) -> str:
    stripped = re.sub(r"\n\s*archive = \{[^}]*\}", "", versions_tf)
    assert "archive" not in stripped, "versions.tf changed shape; update the test double"
    return stripped


def _ignore_working_files(_: str, names: list[str]) -> list[str]:
    return [name for name in names if name in {".terraform", "__pycache__", ".terraform.lock.hcl"}]
