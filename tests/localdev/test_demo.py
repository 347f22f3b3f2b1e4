"""`make demo` end to end, as a newcomer runs it: a fresh process, real HTTP, exit status."""

import re
import subprocess
import sys

import pytest

from tests.terraform.tf_tools import REPO

# What differs from run to run: ports, job ids, callback tokens (as their 4-character prefix), the
# canceller's delay.
RUN_TO_RUN = (
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:PORT"),
    (re.compile(r"job-[0-9a-f]{12}"), "job-000000000000"),
    (re.compile(r"job-[0-9a-f]{6}…"), "job-000000…"),
    (re.compile(r"[A-Za-z0-9_-]{4}…"), "TOKN…"),
    (re.compile(r"\d+\.\d\d s after"), "0.00 s after"),
)


def masked(output: str) -> list[str]:
    for pattern, stand_in in RUN_TO_RUN:
        output = pattern.sub(stand_in, output)
    return [line.rstrip() for line in output.splitlines()]


@pytest.fixture(scope="module")
def demo() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "localdev.demo"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_demo_shows_every_outcome_and_exits_zero(demo: subprocess.CompletedProcess[str]) -> None:
    lines = demo.stdout.splitlines()

    def line(step: str) -> str:
        return next(text for text in lines if f" {step} " in text)

    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "RUNNING → SUCCEEDED" in demo.stdout
    assert "RUNNING → FAILED" in demo.stdout
    webhooks = [text for text in lines if " RunPod webhook " in text]
    assert [("COMPLETED" in text, "FAILED" in text) for text in webhooks[:2]] == [
        (True, False),
        (False, True),
    ]
    assert all("HTTP 200" in text for text in webhooks[:2])
    assert sum(" submit " in text and "RunPod job job-" in text for text in lines) == 4
    assert "RUNNING → FAILED" in demo.stdout
    assert "RunPod.FAILED" in demo.stdout
    assert "already completed" in line("RunPod retries")
    assert "HTTP 404" in line("unknown token")
    assert "HTTP 400" in line("malformed body")
    assert "lost, 3 tries" in webhooks[2]
    (run,) = [text for text in lines if " watchdog run " in text]
    assert "recovered 1" in run
    assert "RUNNING → ABORTED" in line("stop execution")
    cancelled = line("canceller")
    assert "cancelled 1" in cancelled
    seconds = float(cancelled.split(" s after the stop")[0].rsplit(" ", 1)[-1])
    assert seconds <= 10  # the goal; the sweep would take minutes
    assert "CANCELLED" in next(text for text in lines if text.startswith(" ✓ RunPod job "))
    costs = [text.split()[-1] for text in lines if text.startswith("   ") and "seg_000" in text]
    assert costs[:3] == ["$0.006329", "$0.000339", "$0.006329"]  # 20.417 s and 1.093 s of GPU
    assert costs[3] == "EXPIRED"  # a cancelled job's cost is not known
    assert sum("RUNNING → SUCCEEDED" in text for text in lines) == 2
    assert "✗" not in demo.stdout
    assert "Every outcome is the expected one." in demo.stdout
    assert "\033[" not in demo.stdout  # no colour codes when not on a terminal


def test_the_readme_shows_what_the_demo_prints(demo: subprocess.CompletedProcess[str]) -> None:
    readme = (REPO / "README.md").read_text()
    start = readme.index("```text\nRunPod → webhook → Step Functions") + len("```text\n")
    shown = readme[start : readme.index("\n```", start)]

    assert masked(shown) == masked(demo.stdout.rstrip("\n"))
