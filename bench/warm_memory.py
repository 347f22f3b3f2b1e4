"""One function's memory in a fresh interpreter: `make bench` runs `python -m bench.warm_memory
<module>` as a subprocess, its environment already set.

The function module is imported first, before anything else the bench needs, as Lambda's runtime
imports it. Then its AWS clients are answered in-process and the handler is invoked over and over
with the same event; the peak resident set size at each stage goes to stdout as JSON.
A leak shows as growth between the end of the warm-up and the last invocation. The instructions
come as JSON on stdin, read after the import: {"event", "aws": {operation: response}, "expect":
{name: value the handler's answer holds}, "invocations", "warm_up", "large_result"?:
{"callback_token", "job_id", "size_bytes"}}.
"""

import importlib
import json
import os
import resource
import sys
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def peak_kib() -> int:
    """The process's peak resident set size. On Linux, VmHWM: ru_maxrss would also hold the
    peak of the process that started this one (Linux keeps it across fork and exec), and the
    bench that starts it is far larger than a function."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS, KiB elsewhere


def main(module: str) -> None:
    sys.path.insert(0, os.path.join(ROOT, "lambda"))
    function = importlib.import_module(module)
    report: dict[str, float] = {"import_kib": peak_kib()}

    from bench.in_process_aws import answered_in_process, output_to
    from localdev.lambda_context import WATCHDOG_TIMEOUT_MS, LocalLambdaContext

    spec = json.load(sys.stdin)
    context = LocalLambdaContext(remaining_time_ms=WATCHDOG_TIMEOUT_MS)
    durations_ns = []
    with (
        answered_in_process(function, spec["aws"]),
        open(os.devnull, "w") as devnull,
        output_to(function, devnull),
    ):
        for done in range(1, spec["invocations"] + 1):
            started_ns = time.perf_counter_ns()
            answer = function.lambda_handler(spec["event"], context)
            durations_ns.append(time.perf_counter_ns() - started_ns)
            _expect(answer, spec["expect"])
            if done == spec["warm_up"]:
                report["warm_kib"] = peak_kib()
        report["invocations_kib"] = peak_kib()
        report["tls_kib"] = _with_tls_contexts()
        if "large_result" in spec:
            answer = function.lambda_handler(large_result_event(**spec["large_result"]), context)
            _expect(answer, spec["expect"])
            report["large_result_kib"] = peak_kib()
    durations_ns.sort()
    report["median_us"] = durations_ns[len(durations_ns) // 2] / 1e3
    print(json.dumps(report))


def _expect(answer: dict[str, Any], expected: dict[str, Any]) -> None:
    """The path measured must be the one meant: a failing invocation measures something else."""
    differing = {
        name: answer.get(name) for name, value in expected.items() if answer.get(name) != value
    }
    if differing:
        raise SystemExit(f"unexpected answer {differing}, expected {expected}")


def large_result_event(callback_token: str, job_id: str, size_bytes: int) -> dict[str, Any]:
    """RunPod's webhook for a job whose output is a long list of small objects, ``size_bytes`` of
    JSON or a little less: a webhook carries at most a 6 MB invocation payload (Lambda's limit)."""
    from localdev.local_webhook import webhook_event

    frame = {"index": 0, "start_s": 12.5, "end_s": 13.0, "label": "person", "score": 0.987}
    count = size_bytes // len(json.dumps(frame))
    frames = [{**frame, "index": index} for index in range(count)]
    body = {"id": job_id, "status": "COMPLETED", "output": {"frames": frames}}
    return webhook_event(callback_token, json.dumps(body))


def _with_tls_contexts() -> int:
    """The peak once the TLS contexts real HTTPS connections hold are loaded: botocore's (with
    its CA bundle) and urllib's default one (the RunPod API). AWS answered in-process and RunPod
    on plain loopback HTTP never load them here."""
    import ssl

    from botocore.httpsession import create_urllib3_context, get_cert_path

    botocore_context = create_urllib3_context()
    botocore_context.load_verify_locations(get_cert_path(True))
    urllib_context = ssl.create_default_context()
    del botocore_context, urllib_context
    return peak_kib()


if __name__ == "__main__":
    main(sys.argv[1])
