"""`make scale` with tiny N: the same code, its invariants (not its timings)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def test_scale_bench_meets_its_targets_at_tiny_n() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "bench.scale", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert completed.returncode == 0, completed.stdout + completed.stderr
    summary = completed.stdout.split("\nSummary")[1]
    assert "FAIL" not in summary
    for invariant in (
        "0 RunPod 429s",
        "every waiting task heartbeated",
        "no job cancelled whose task waits",
        "0 tasks failed",
        "exactly one SendTask* per task",
        "every execution SUCCEEDED",
        "every result not delivered by its webhook recovered by one run",
    ):
        assert invariant in summary
