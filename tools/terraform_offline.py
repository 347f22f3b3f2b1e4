"""Find terraform and the hashicorp/aws provider mirror, and lay out a copy of the module that
validates and plans offline (hashicorp/archive is not available offline: package.tf is swapped
for a double that exposes a lambda.zip built in Python).

No machine paths: TERRAFORM / TF_PLUGIN_DIR override, else PATH and a bounded search.
"""

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from localdev.lambda_zip import build_lambda_zip

REPO = Path(__file__).resolve().parents[1]
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

PACKAGE_DOUBLE = """\
# Test double of package.tf: hashicorp/archive is not available offline, so the test builds
# lambda.zip from lambda/ in Python (localdev/lambda_zip.py) and this file exposes it.
locals {
  lambda_zip_path = "${path.module}/lambda.zip"
  lambda_zip_hash = filebase64sha256("${path.module}/lambda.zip")
}
"""


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
    return subprocess.run(  # noqa: S603 (the terraform binary found above, our arguments)
        [terraform, *arguments, "-no-color"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def offline_module(destination: Path, source: Path = REPO) -> Path:
    """Copy the module and its examples into `destination`, package.tf swapped for the double.

    `source` is this checkout, or an earlier version of it unpacked elsewhere; the zip is built
    from this checkout's lambda/ either way, so two copies differ in their Terraform only.
    """
    destination.mkdir(parents=True)
    for path in source.glob("*.tf"):
        shutil.copy2(path, destination / path.name)
    shutil.copytree(source / "examples", destination / "examples", ignore=_ignore_working_files)
    (destination / "package.tf").write_text(PACKAGE_DOUBLE)
    versions = (destination / "versions.tf").read_text()
    (destination / "versions.tf").write_text(_without_archive_provider(versions))
    build_lambda_zip(destination / "lambda.zip")
    return destination


def _without_archive_provider(versions_tf: str) -> str:
    stripped = re.sub(r"\n\s*archive = \{[^}]*\}", "", versions_tf)
    if "archive" in stripped:
        raise RuntimeError("versions.tf changed shape: update the package.tf double")
    return stripped


def _ignore_working_files(_: str, names: list[str]) -> list[str]:
    return [name for name in names if name in {".terraform", "__pycache__", ".terraform.lock.hcl"}]
