"""What the parts of `make scale` share: the functions' environment, memory and CPU readings, and
how a part hands its figures to bench/scale.py (JSON in a file: the functions print to stdout)."""

import json
import os
import resource
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.limited_runpod import Latency
from localdev.runtime import LAMBDA_SOURCE

if str(LAMBDA_SOURCE) not in sys.path:  # the functions' own modules, as Lambda finds them
    sys.path.insert(0, str(LAMBDA_SOURCE))

ENDPOINT_ID = "upscaler-v2"
TABLE_NAME = "scale-runpod-callbacks"
API_KEY = "rp_SCALEKEY_0123456789abcdef"
# A task token as long as AWS's usually are (they run to about 700 characters).
TASK_TOKEN_LENGTH = 700
# variables.tf: watchdog.timeout 120 s, schedule rate(2 minutes); the run stops taking records
# 30 s before its timeout (watchdog_run.SPARE_MS).
WATCHDOG_TIMEOUT_S = 120
WATCHDOG_PERIOD_S = 120
WATCHDOG_CUTOFF_S = WATCHDOG_TIMEOUT_S - 30
WATCHDOG_MEMORY_MB = 1024  # variables.tf, watchdog.memory_size
WEBHOOK_MEMORY_MB = 256  # variables.tf, lambda_memory_size
AWS_ENVIRONMENT = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "scale",
    "AWS_SECRET_ACCESS_KEY": "scale",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "RunPodWebhookScale",
    "LOG_LEVEL": "INFO",
}


def set_aws_environment() -> None:
    for name, value in AWS_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    os.environ.pop("AWS_ENDPOINT_URL", None)


def quiet(function: Any) -> None:
    """The function's log lines and EMF metrics go nowhere (they would swamp the report)."""
    devnull = open(os.devnull, "w")  # noqa: SIM115 - for the life of the process
    function.logger.registered_handler.setStream(devnull)


def peak_rss_kib() -> int:
    """The process's peak resident set size (VmHWM on Linux)."""
    return _proc_status("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def rss_kib() -> int:
    return _proc_status("VmRSS") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def reset_peak_rss() -> bool:
    """Start VmHWM afresh from the current RSS (Linux 4.0+); False where that is impossible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _proc_status(field: str) -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class Measured:
    wall_s: float = 0.0
    cpu_s: float = 0.0
    rss_before_kib: int = 0
    peak_growth_kib: int = 0


@contextmanager
def measured() -> Iterator[Measured]:
    """Wall time, this process's CPU time and its peak memory growth over the block."""
    result = Measured()
    reset_peak_rss()
    result.rss_before_kib = rss_kib()
    peak_before = peak_rss_kib()
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield result
    finally:
        result.wall_s = time.perf_counter() - wall
        result.cpu_s = time.process_time() - cpu
        result.peak_growth_kib = max(0, peak_rss_kib() - max(result.rss_before_kib, 0))
        if peak_before > result.rss_before_kib and peak_rss_kib() == peak_before:
            result.peak_growth_kib = 0  # the reset failed and nothing grew past the old peak


def sized_part_main(run: Callable[[int, bool, Latency], dict[str, Any]]) -> None:
    """part_main for a part run as `<count> real|<other> [<low_s> <high_s>]`."""

    def parsed(args: list[str]) -> dict[str, Any]:
        count, mode, *bounds = args
        latency = Latency(*map(float, bounds)) if bounds else Latency()
        return run(int(count), mode == "real", latency)

    part_main(parsed)


def part_main(run: Callable[[list[str]], dict[str, Any]]) -> None:
    """`python -m bench.<part> <result file> <args…>`: the figures go to the file as JSON."""
    result_file, *args = sys.argv[1:]
    figures = run(args)
    Path(result_file).write_text(json.dumps(figures))
    sys.stdout.flush()
    os._exit(0)  # moto's execution threads wait for tokens nobody will send
