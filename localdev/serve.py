"""`make serve`: the local system left running, to drive by hand until Ctrl-C (docs/local.md).

It runs what `make demo` runs: moto as AWS (state machines execute), the webhook behind a loopback
HTTP server, a fake RunPod that calls the webhook when a job ends, the submit function (run by
`local_cli submit-job`) and the watchdog on the module's schedule. With --aws only the webhook
runs, against your real AWS account (default credential chain, the profile's region), e.g. to
debug a deployed state machine by pointing RunPod at a tunnel to this machine.
"""

import argparse
import errno
import json
import logging
import signal
import socket
import subprocess
import sys
import threading
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import boto3

from localdev import aws_setup
from localdev.fake_runpod import FakeRunPod, serve_fake_runpod
from localdev.local_aws import local_aws
from localdev.local_cli import (
    DEFAULT_AWS_PORT,
    DEFAULT_ENDPOINT,
    DEFAULT_TABLE,
    STATE_MACHINE,
    SUBMIT_FUNCTION,
    SUBMITTING_STATE_MACHINE,
    WATCHDOG_FUNCTION,
)
from localdev.runtime import aws_region, load_function
from localdev.webhook_server import serve_webhook

EXAMPLE_TOKEN = "test-123"  # noqa: S105 - the spec's example callback token, not a secret
EXAMPLE_JOB = "runpod-job-123"
EXAMPLE_WEBHOOK = {
    "id": EXAMPLE_JOB,
    "status": "COMPLETED",
    "output": {"message": "Video upscaled successfully"},
}
REPOSITORY = Path(__file__).resolve().parent.parent
WATCHDOG_PERIOD_S = 120  # the module's default schedule, rate(2 minutes)
JOB_RUNS_S = 2.0  # how long a fake RunPod job runs before its webhook
RUNPOD_RETRY_S = 10.0  # RunPod retries a webhook that failed 10 s later


class PortInUse(Exception):
    def __init__(self, port: int, flag: str) -> None:
        super().__init__(
            f"make serve: port {port} is in use (another make serve?): pick another with {flag}, "
            f"e.g. make serve ARGS='{flag} {port + 1}'"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080, help="webhook port on 127.0.0.1")
    parser.add_argument(
        "--aws-port", type=int, default=DEFAULT_AWS_PORT, help="local AWS (moto) port on 127.0.0.1"
    )
    parser.add_argument(
        "--watchdog-period", type=float, default=WATCHDOG_PERIOD_S, help="seconds between runs"
    )
    parser.add_argument("--aws", action="store_true", help="use your real AWS account, not moto")
    parser.add_argument("--table", help="callback table name (required with --aws)")
    options = parser.parse_args(argv)
    if options.aws and not options.table:
        parser.error("--aws needs --table NAME (the module's table_name output)")

    stopped = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        _check_free(options.port, "--port")
        if not options.aws:
            _check_free(options.aws_port, "--aws-port")
        if options.aws:
            _serve_real_aws(options, stopped)
        else:
            _serve_local(options, stopped)
    except PortInUse as error:
        print(error, file=sys.stderr)
        return 2
    print("\nShutting down.")
    return 0


def _check_free(port: int, flag: str) -> None:
    """Fail with one line naming the flag: moto's server would hang on a busy port, and the
    webhook's would end in a traceback."""
    if port == 0:
        return
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as both servers bind
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise PortInUse(port, flag) from None
            raise


def _serve_real_aws(options: argparse.Namespace, stopped: threading.Event) -> None:
    webhook_function = load_function("webhook", None, CALLBACK_TABLE_NAME=options.table)
    with serve_webhook(webhook_function.lambda_handler, options.port) as webhook:
        print(f"Webhook: POST {webhook}/webhook/<callback_token>   (Ctrl-C stops it)")
        print(f"Serving against your AWS account in {aws_region()}, table {options.table}.")
        sys.stdout.flush()
        stopped.wait()


def _serve_local(options: argparse.Namespace, stopped: threading.Event) -> None:
    logging.getLogger("moto").setLevel(logging.CRITICAL)  # it logs each failed execution in full
    runpod = FakeRunPod(retry_interval_s=RUNPOD_RETRY_S, job_delay_s=JOB_RUNS_S)
    with ExitStack() as stack:
        endpoint = stack.enter_context(local_aws(options.aws_port))
        runpod_api = stack.enter_context(serve_fake_runpod(runpod))
        table = options.table or DEFAULT_TABLE
        webhook_function = load_function("webhook", endpoint, CALLBACK_TABLE_NAME=table)
        webhook = stack.enter_context(serve_webhook(webhook_function.lambda_handler, options.port))
        _prepare_local_aws(endpoint, table, f"{webhook}/webhook", runpod_api)
        _print_instructions(webhook, endpoint, runpod_api, options.watchdog_period)
        watchdog = threading.Thread(
            target=_scheduled_watchdog,
            args=(endpoint, table, options.watchdog_period, stopped),
            daemon=True,
        )
        watchdog.start()
        stopped.wait()


def _prepare_local_aws(endpoint: str, table: str, webhook_base_url: str, runpod_api: str) -> None:
    """The module's resources in moto, and one execution already waiting under the README's
    callback token."""
    client: dict[str, Any] = {
        name: boto3.client(name, endpoint_url=endpoint)
        for name in ("dynamodb", "stepfunctions", "iam", "lambda", "secretsmanager")
    }
    aws_setup.create_callback_table(client["dynamodb"], table)
    secret = client["secretsmanager"].create_secret(
        Name="local-runpod-api-key", SecretString="rp_local_key"
    )
    runpod_settings = {
        "CALLBACK_TABLE_NAME": table,
        "RUNPOD_API_KEY_SECRET_ARN": secret["ARN"],
        "RUNPOD_API_BASE_URL": runpod_api,
    }
    submit_arn = aws_setup.create_function(
        client["iam"],
        client["lambda"],
        SUBMIT_FUNCTION,
        "submit",
        {**runpod_settings, "WEBHOOK_BASE_URL": webhook_base_url},
    )
    aws_setup.create_function(
        client["iam"], client["lambda"], WATCHDOG_FUNCTION, "watchdog", runpod_settings
    )
    stepfunctions = client["stepfunctions"]
    aws_setup.create_state_machine(
        stepfunctions, SUBMITTING_STATE_MACHINE, aws_setup.submitting_task_definition(submit_arn)
    )
    machine = aws_setup.create_state_machine(
        stepfunctions, STATE_MACHINE, aws_setup.waiting_task_definition(table)
    )
    aws_setup.start_waiting_execution(
        stepfunctions,
        machine,
        segment_filename="seg_0001.mp4",
        job_id=EXAMPLE_JOB,
        callback_token=EXAMPLE_TOKEN,
    )
    aws_setup.wait_for_record(client["dynamodb"], table, EXAMPLE_TOKEN)


def _scheduled_watchdog(
    endpoint: str, table: str, period_s: float, stopped: threading.Event
) -> None:
    """The watchdog's schedule: each run in its own process, as a Lambda instance."""
    while not stopped.wait(period_s):
        run = subprocess.run(  # noqa: S603 - this interpreter, our module
            [*_local_cli(endpoint, table), "run-watchdog"],
            cwd=REPOSITORY,
            capture_output=True,
            text=True,
            check=False,
        )
        lines = (run.stdout if run.returncode == 0 else run.stderr).strip().splitlines()
        print(f"[scheduled] {lines[-1] if lines else f'watchdog exited {run.returncode}'}")
        sys.stdout.flush()


def _local_cli(endpoint: str, table: str) -> list[str]:
    """local_cli's command line as a user types it from the repository."""
    python = Path(sys.executable)
    if python.is_relative_to(REPOSITORY):  # the project's venv: python, python3 are the same
        python = python.relative_to(REPOSITORY).with_name("python")
    command = [str(python), "-m", "localdev.local_cli"]
    if endpoint != DEFAULT_ENDPOINT:
        command += ["--endpoint", endpoint]
    if table != DEFAULT_TABLE:
        command += ["--table", table]
    return command


def _print_instructions(webhook: str, endpoint: str, runpod_api: str, period_s: float) -> None:
    cli = " ".join(_local_cli(endpoint, DEFAULT_TABLE))
    print(f"Webhook: POST {webhook}/webhook/<callback_token>   (Ctrl-C stops everything)")
    print(f"Local AWS (moto): {endpoint}   RunPod (fake): {runpod_api}")
    print(f"Watchdog: every {period_s:g} s, as the module schedules it")
    print(
        f"An execution waits on callback token {EXAMPLE_TOKEN} (up to "
        f"{aws_setup.TIMEOUT_S} s, the documented Task's TimeoutSeconds). Play RunPod:"
    )
    print(f"  curl -X POST {webhook}/webhook/{EXAMPLE_TOKEN} \\")
    print(f"    -H 'Content-Type: application/json' -d '{json.dumps(EXAMPLE_WEBHOOK)}'")
    print("From the repository, in another terminal:")
    for heading, command in (
        ("Start another execution (it prints its callback token):", "start-execution"),
        ("Submit a job (the fake RunPod runs it and calls the webhook):", "submit-job"),
        ("List the executions:", "executions"),
        ("One execution's status and output:", "describe-execution <execution>"),
        ("Look at the records:", "records"),
        ("Run the watchdog now:", "run-watchdog"),
    ):
        print(heading)
        print(f"  {cli} {command}")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
