"""`make serve`: the local AWS and the webhook left running, to drive by hand until Ctrl-C.

With --aws the handler serves against your real AWS account instead (default credential chain),
e.g. to debug a deployed state machine by pointing RunPod at a tunnel to this machine.
"""

import argparse
import json
import signal
import sys
import threading
from contextlib import ExitStack
from pathlib import Path

import boto3

from localdev import aws_setup
from localdev.local_aws import local_aws
from localdev.local_cli import DEFAULT_TABLE, STATE_MACHINE
from localdev.runtime import load_function
from localdev.webhook_server import serve_webhook

EXAMPLE_TOKEN = "test-123"  # noqa: S105 - the spec's example callback token, not a secret
EXAMPLE_JOB = "runpod-job-123"
EXAMPLE_WEBHOOK = {
    "id": EXAMPLE_JOB,
    "status": "COMPLETED",
    "output": {"message": "Video upscaled successfully"},
}
REPOSITORY = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080, help="webhook port on 127.0.0.1")
    parser.add_argument("--aws", action="store_true", help="use your real AWS account, not moto")
    parser.add_argument("--table", help="callback table name (required with --aws)")
    options = parser.parse_args(argv)
    if options.aws and not options.table:
        parser.error("--aws needs --table NAME (the module's table_name output)")

    stopped = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    with ExitStack() as stack:
        endpoint = None if options.aws else stack.enter_context(local_aws())
        table = options.table or DEFAULT_TABLE
        webhook_function = load_function("webhook", endpoint, CALLBACK_TABLE_NAME=table)
        webhook = stack.enter_context(serve_webhook(webhook_function.lambda_handler, options.port))
        if endpoint:
            _prepare_local_aws(endpoint, table)
        _print_instructions(webhook, endpoint, table)
        stopped.wait()
        print("\nShutting down.")
    return 0


def _prepare_local_aws(endpoint: str, table: str) -> None:
    """Table, state machine, and one execution already waiting under the README's token."""
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint)
    stepfunctions = boto3.client("stepfunctions", endpoint_url=endpoint)
    aws_setup.create_callback_table(dynamodb, table)
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
    aws_setup.wait_for_record(dynamodb, table, EXAMPLE_TOKEN)


def _print_instructions(webhook: str, endpoint: str | None, table: str) -> None:
    print(f"Webhook: POST {webhook}/webhook/<callback_token>   (Ctrl-C stops everything)")
    if endpoint is None:
        print(f"Serving against your AWS account, table {table}.")
        sys.stdout.flush()
        return
    local_cli = f"cd {REPOSITORY} && {sys.executable} -m localdev.local_cli --endpoint {endpoint}"
    print(f"Local AWS (moto): {endpoint}")
    print(f"An execution is waiting on callback token {EXAMPLE_TOKEN}. Play RunPod:")
    print(f"  curl -X POST {webhook}/webhook/{EXAMPLE_TOKEN} \\")
    print(f"    -H 'Content-Type: application/json' -d '{json.dumps(EXAMPLE_WEBHOOK)}'")
    print("Start another execution (it prints its callback token):")
    print(f"  {local_cli} start-execution")
    print("Look at the records:")
    print(f"  {local_cli} records")
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
