"""`make scale`: the system at 1,000 and 10,000 jobs on one endpoint, against RunPod's limits.

Each part runs in a fresh process (bench/scale_*.py; their docstrings say what is real and what
is simulated), one after another: 1. one watchdog run over N stale records; 2. a burst of N
submissions through `examples/complete`'s retry policy; 3. peak memory at RunPod's largest
answer; 4. N jobs end to end with one webhook in five lost. A summary of PASS/FAIL per target
ends the report; the exit status is 1 if any target failed. Nothing is written into the
repository.

``--quick`` runs the same code with tiny N (the smoke test, tests/localdev/test_scale.py).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

from bench.scale_common import (
    WATCHDOG_CUTOFF_S,
    WATCHDOG_MEMORY_MB,
    WATCHDOG_PERIOD_S,
    WEBHOOK_MEMORY_MB,
)

ROOT = Path(__file__).resolve().parent.parent


class Sizes(NamedTuple):
    watchdog: tuple[tuple[int, str], ...]
    burst: tuple[tuple[int, str], ...]
    e2e: int
    e2e_workers: int
    memory: bool


FULL = Sizes(
    watchdog=((1_000, "real"), (10_000, "simulated")),
    burst=((1_000, "real"), (10_000, "model")),
    e2e=1_000,
    e2e_workers=8,
    memory=True,
)
QUICK = Sizes(
    watchdog=((40, "real"), (200, "simulated")),
    burst=((30, "real"), (300, "model")),
    e2e=30,
    e2e_workers=2,
    memory=False,
)


class Target(NamedTuple):
    name: str
    passed: bool
    detail: str


def run_part(module: str, *args: str) -> dict[str, Any]:
    """One part in a fresh interpreter; its figures (the functions' own output is dropped)."""
    with tempfile.TemporaryDirectory() as scratch:
        result = Path(scratch) / "figures.json"
        completed = subprocess.run(
            [sys.executable, "-m", f"bench.{module}", str(result), *args],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
        if completed.returncode or not result.exists():
            raise RuntimeError(f"bench.{module} {' '.join(args)} failed:\n{completed.stderr}")
        figures: dict[str, Any] = json.loads(result.read_text())
        return figures


def _line(label: str, value: object) -> None:
    print(f"  {label:<44} {value}")


def watchdog_part(count: int, mode: str) -> list[Target]:
    f = run_part("scale_watchdog", str(count), mode)
    s, rp = f["summary"], f["runpod"]
    throttled = sum(rp["throttled"].values())
    print(f"\n1. One watchdog run, N = {count:,} stale records on one endpoint")
    _line("Step Functions", f["step_functions"])
    _line("RunPod round trip", f"{f['latency']} (real time, slept by the fake RunPod)")
    _line(
        "wall time",
        f"{f['wall_s']:.1f} s (cutoff {WATCHDOG_CUTOFF_S} s, period {WATCHDOG_PERIOD_S} s)",
    )
    _line("records reached (checked)", f"{s['checked']:,} of {count:,}")
    _line("heartbeats", f"{s['heartbeats']:,} (expected {f['expected_heartbeats']:,})")
    _line(
        "recovered via the delivery path",
        f"{s['recovered']:,} (expected {f['expected_recovered']:,})",
    )
    _line("left behind (WatchdogBehind)", s["behind"])
    _line(
        "errors, skipped, unanswered, cancelled",
        f"{s['errors']}, {s['skipped']}, {s['unanswered']}, {s['cancelled']}",
    )
    _line("RunPod requests", ", ".join(f"/{k} {v:,}" for k, v in rp["requests"].items()))
    _line("RunPod 429s", throttled)
    _line("peak RunPod concurrency", rp["peak_in_flight"])
    _line("TCP connections opened at RunPod", rp["connections"])
    _line(
        "peak memory growth of the run",
        f"{f['peak_growth_kib'] / 1024:.0f} MiB (process: watchdog + moto)",
    )
    _line("CPU time per record", f"{1000 * f['cpu_s'] / max(count, 1):.2f} ms (watchdog + moto)")
    if "executions" in f:
        _line("executions after the run", f["executions"])
        waiting_ok = f["executions"].get("RUNNING", 0) == f["expected_heartbeats"]
        recovered_ok = f["executions"].get("SUCCEEDED", 0) == f["expected_recovered"]
    else:
        sim = f["simulated"]
        _line("tasks heartbeated exactly once", f"{sim['heartbeated_once']:,}")
        _line("SendTask* outcomes", sim["outcomes"])
        _line("SendTask* throttled / refused", f"{sim['throttled']} / {sim['refused']}")
        waiting_ok = sim["heartbeated_once"] == f["expected_heartbeats"]
        recovered_ok = sim["outcomes"].get("SendTaskSuccess", 0) == f["expected_recovered"]
        recovered_ok = recovered_ok and not sim["more_than_one_outcome"]
    every = s["checked"] == count and s["behind"] == 0 and f["wall_s"] <= WATCHDOG_CUTOFF_S
    return [
        Target(
            f"watchdog N={count:,}: every record settled in one run within the cutoff",
            every,
            f"{s['checked']:,}/{count:,} in {f['wall_s']:.1f} s, behind {s['behind']:,}",
        ),
        Target(f"watchdog N={count:,}: 0 RunPod 429s", throttled == 0, str(throttled)),
        Target(
            f"watchdog N={count:,}: every waiting task heartbeated, every finished one "
            "recovered once",
            waiting_ok and recovered_ok and s["heartbeats"] == f["expected_heartbeats"],
            f"{s['heartbeats']:,} heartbeats, {s['recovered']:,} recovered",
        ),
        Target(
            f"watchdog N={count:,}: no job cancelled whose task waits",
            f["cancel_requests"] == 0 and s["cancelled"] == 0,
            f"{f['cancel_requests']} /cancel",
        ),
    ]


def burst_part(count: int, mode: str) -> list[Target]:
    f = run_part("scale_burst", str(count), mode)
    print(f"\n2. A burst of N = {count:,} submissions on one endpoint, all at once")
    _line("attempts run by", f"{f['mode']} (Step Functions' backoff in virtual time)")
    _line("retry policy (examples/complete)", f["policy"])
    _line("RunPod round trip", f"{f['latency']} (virtual time)")
    _line("time until all submitted", f"{f['all_submitted_after_s']:.1f} s")
    _line("submitted", f"{f['submitted']:,}")
    _line("/run attempts (429s)", f"{f['run_requests']:,} ({f['run_429']:,})")
    _line(
        "most attempts by one task",
        f"{f['max_attempts_one_task']} of {_policy_attempts(f['policy'])}",
    )
    _line("peak /run in flight", f["peak_in_flight"])
    _line("tasks failed", f"{f['failed']} {f['failed_by_error'] or ''}".strip())
    return [
        Target(
            f"burst N={count:,} ({f['mode']}): 0 tasks failed",
            f["failed"] == 0 and f["submitted"] == count,
            f"{f['failed']} failed, {f['submitted']:,} submitted",
        ),
    ]


def _policy_attempts(policy: str) -> int:
    retries = int(policy.split("MaxAttempts ")[1].split(",", maxsplit=1)[0])
    return retries + 1


def memory_part() -> list[Target]:
    f = run_part("scale_memory")
    print("\n3. Peak memory at RunPod's largest answer (fresh interpreter per case)")
    print(
        f"  {'function':<9} {'answer':>9} {'large_outputs':>13} {'floor':>7} {'growth':>7} "
        f"{'estimate':>8} {'memory':>7}  outcome"
    )
    targets = []
    for case in f["cases"]:
        estimate_mib = (case["floor_kib"] + case["growth_kib"]) / 1024
        if case["output_s3"]:
            outcome = f"{case['execution']} with output_s3"
        else:
            outcome = f"{case['execution']} {case['error'] or ''}".strip()
        print(
            f"  {case['function']:<9} {case['answer_bytes'] / 1024 / 1024:>6.1f} MiB"
            f" {'on' if case['large_outputs'] else 'off':>13} {case['floor_kib'] / 1024:>4.0f} MiB"
            f" {case['growth_kib'] / 1024:>4.0f} MiB {estimate_mib:>5.0f} MiB"
            f" {case['memory_mb']:>4} MB  {outcome}"
        )
        over_bound = case["function"] == "watchdog" and case["answer_bytes"] > 32 * 1024 * 1024
        if case["large_outputs"] and not over_bound:
            right = case["execution"] == "SUCCEEDED" and case["output_s3"]
        else:
            right = case["execution"] == "FAILED" and case["error"] == "RunPod.OutputTooLarge"
        targets.append(
            Target(
                f"memory {case['function']} {case['answer_bytes'] / 1024 / 1024:.1f} MiB, "
                f"large_outputs {'on' if case['large_outputs'] else 'off'}: fits "
                f"{case['memory_mb']} MB, {'output_s3' if right and case['output_s3'] else 'typed'}"
                " outcome",
                right and estimate_mib < case["memory_mb"],
                f"{estimate_mib:.0f} MiB, {outcome}",
            )
        )
    print(
        f"  (default memory: watchdog {WATCHDOG_MEMORY_MB} MB, webhook {WEBHOOK_MEMORY_MB} MB;"
        " estimate = floor + growth, moto's share included)"
    )
    return targets


def e2e_part(count: int, workers: int) -> list[Target]:
    f = run_part("scale_e2e", str(count), str(workers))
    w = f["watchdog"]
    throttled = sum(f["runpod"]["throttled"].values())
    print(f"\n4. End to end, N = {count:,} jobs, one webhook in five lost")
    _line(
        "system",
        "moto server, submit function in "
        f"{f['submit_workers']} processes, webhook over HTTP, fake RunPod",
    )
    _line("RunPod round trip", f"{f['latency']} (real time)")
    _line("submitted", f"{f['submitted']} in {f['submit_s']:.1f} s")
    _line("webhooks lost (all attempts)", f["webhooks_lost"])
    _line("delivered by webhook", f["delivered_by_webhook"])
    _line("recovered by the watchdog", f"{w['recovered']} (one run, {f['watchdog_s']:.1f} s)")
    _line("SendTask* at moto", f"{f['send_task_calls']:,} {f['send_task_by_operation']}")
    _line("tokens sent more than once", f["tokens_sent_more_than_once"])
    _line("executions", f["executions"])
    _line("RunPod 429s", throttled)
    _line("total time", f"{f['total_s']:.1f} s")
    exactly_once = f["send_task_calls"] == count and f["tokens_sent_more_than_once"] == 0
    return [
        Target(
            f"e2e N={count:,}: exactly one SendTask* per task",
            exactly_once,
            f"{f['send_task_calls']:,} calls",
        ),
        Target(
            f"e2e N={count:,}: every execution SUCCEEDED",
            f["executions"].get("SUCCEEDED", 0) == count,
            str(f["executions"]),
        ),
        Target(
            f"e2e N={count:,}: every result not delivered by its webhook recovered by one run",
            w["recovered"] >= f["webhooks_lost"]
            and f["delivered_by_webhook"] + w["recovered"] == count,
            f"{f['delivered_by_webhook']} delivered + {w['recovered']} recovered"
            f" ({f['webhooks_lost']} webhooks lost)",
        ),
        Target(f"e2e N={count:,}: 0 RunPod 429s", throttled == 0, str(throttled)),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny N: the smoke test")
    sizes = QUICK if parser.parse_args().quick else FULL
    started = time.perf_counter()
    print(
        f"make scale: RunPod's per-endpoint limits enforced by the fake RunPod; {os.cpu_count()}"
        " CPU cores"
    )
    targets: list[Target] = []
    for count, mode in sizes.watchdog:
        targets += watchdog_part(count, mode)
    for count, mode in sizes.burst:
        targets += burst_part(count, mode)
    if sizes.memory:
        targets += memory_part()
    targets += e2e_part(sizes.e2e, sizes.e2e_workers)
    print(f"\nSummary ({time.perf_counter() - started:.0f} s)")
    for target in targets:
        print(f"  {'PASS' if target.passed else 'FAIL'}  {target.name}: {target.detail}")
    failed = sum(not target.passed for target in targets)
    print(f"{len(targets) - failed} of {len(targets)} targets met")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
