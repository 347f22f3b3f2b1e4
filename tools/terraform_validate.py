"""`terraform init` and `terraform validate` of the module and both examples, offline.

hashicorp/archive is not available offline, so this validates the copy the Terraform tests use
(tools/terraform_offline.py): the real module and examples, package.tf swapped for its double.
Providers come from the hashicorp/aws mirror the tests find (TF_PLUGIN_DIR overrides), or from
the registry when there is none; TERRAFORM overrides the binary on PATH.
"""

import os
import sys
import tempfile
from pathlib import Path

from tools import terraform_offline

ROOTS = (".", "examples/basic", "examples/complete")


def _terraform(terraform: str, *arguments: str, cwd: Path, env: dict[str, str]) -> str | None:
    """None when the command succeeds, else what it printed."""
    result = terraform_offline.run_terraform(terraform, *arguments, cwd=cwd, env=env)
    return None if result.returncode == 0 else result.stdout + result.stderr


def main() -> int:
    terraform = terraform_offline.terraform_binary()
    if terraform is None:
        print("no terraform binary (set TERRAFORM or put terraform on PATH)", file=sys.stderr)
        return 1
    mirror = terraform_offline.provider_mirror()
    if mirror is None:
        print("no hashicorp/aws mirror found (TF_PLUGIN_DIR): providers come from the registry")
    failures = 0
    with tempfile.TemporaryDirectory(prefix="terraform-validate-") as scratch:
        tree = terraform_offline.offline_module(Path(scratch, "module"))
        env = {key: value for key, value in os.environ.items() if key != "TF_PLUGIN_CACHE_DIR"}
        env["TF_IN_AUTOMATION"] = "1"
        if mirror is not None:
            env["TF_CLI_CONFIG_FILE"] = str(
                terraform_offline.cli_config(mirror, Path(scratch, "cli.tfrc"))
            )
        for root in ROOTS:
            error = _terraform(
                terraform, "init", "-backend=false", "-input=false", cwd=tree / root, env=env
            ) or _terraform(terraform, "validate", cwd=tree / root, env=env)
            if error is not None:
                failures += 1
                print(f"terraform validate {root}: failed\n{error}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
