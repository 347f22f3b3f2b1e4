"""`make help` lists every target a newcomer can run."""

import re
import shutil
import subprocess

import pytest

from tests.terraform.tf_tools import REPO


def _phony_targets() -> set[str]:
    text = (REPO / "Makefile").read_text().replace("\\\n", " ")
    (phony,) = re.findall(r"^\.PHONY:(.*)$", text, flags=re.MULTILINE)
    return set(phony.split())


def test_make_help_lists_every_phony_target() -> None:
    if shutil.which("make") is None:
        pytest.skip("no make on PATH")
    shown = subprocess.run(
        ["make", "--no-print-directory", "help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    listed = {line.split()[1] for line in shown.splitlines() if line.startswith("  make ")}

    assert "test-e2e" in _phony_targets()
    assert listed == _phony_targets()
    (e2e,) = [line for line in shown.splitlines() if line.split()[1] == "test-e2e"]
    assert "both" not in e2e
    assert all(name in e2e for name in ("webhook", "submit", "watchdog", "canceller"))
