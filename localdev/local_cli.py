"""Drive the local AWS of `make serve` by hand, no AWS CLI needed.

python -m localdev.local_cli --endpoint URL start-execution   # one more execution waits
python -m localdev.local_cli --endpoint URL records           # the callback records
"""

import argparse
import os
import sys
import uuid
from typing import Any

import boto3

from localdev import aws_setup

DEFAULT_TABLE = "local-runpod-callbacks"
STATE_MACHINE = "runpod-job"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True, help="the local AWS (moto) URL")
    parser.add_argument("--table", default=DEFAULT_TABLE, help="callback table name")
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start-execution", help="start an execution that waits")
    start.add_argument("--callback-token", default=None, help="default: a random one")
    start.add_argument("--job-id", default="", help="RunPod job id, empty: the webhook's")
    commands.add_parser("records", help="list the callback records")
    options = parser.parse_args(argv)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "local")  # moto takes any credentials
    clients = {
        service: boto3.client(service, endpoint_url=options.endpoint, region_name="us-east-1")
        for service in ("dynamodb", "stepfunctions")
    }
    if options.command == "start-execution":
        return _start_execution(clients, options.table, options.callback_token, options.job_id)
    return _records(clients["dynamodb"], options.table)


def _start_execution(
    clients: dict[str, Any], table: str, callback_token: str | None, job_id: str
) -> int:
    stepfunctions, dynamodb = clients["stepfunctions"], clients["dynamodb"]
    machines = stepfunctions.list_state_machines()["stateMachines"]
    machine = next(m["stateMachineArn"] for m in machines if m["name"] == STATE_MACHINE)
    token = callback_token or uuid.uuid4().hex
    execution, _ = aws_setup.start_waiting_execution(
        stepfunctions, machine, segment_filename="seg_0002.mp4", job_id=job_id, callback_token=token
    )
    aws_setup.wait_for_record(dynamodb, table, token)
    print(f"Execution {execution.rsplit(':', 1)[-1]} waits on callback token {token}")
    return 0


def _records(dynamodb: Any, table: str) -> int:
    items = dynamodb.scan(TableName=table)["Items"]
    for item in sorted(items, key=lambda row: row.get("created_at", {}).get("S", "")):
        fields = (
            item["callback_token"]["S"],
            item.get("job_id", {}).get("S", ""),
            item.get("status", {}).get("S", ""),
            item.get("completed_at", {}).get("S", ""),
        )
        print("  ".join(fields))
    return 0


if __name__ == "__main__":
    sys.exit(main())
