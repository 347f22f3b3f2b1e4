"""Drive the local system of `make serve` by hand, no AWS CLI or account needed.

python -m localdev.local_cli start-execution      # an execution waits: you play RunPod (curl)
python -m localdev.local_cli submit-job           # the submit function sends the fake RunPod a job
python -m localdev.local_cli executions           # every execution and its status
python -m localdev.local_cli describe-execution N # one execution's status and output or error
python -m localdev.local_cli records              # the callback records
python -m localdev.local_cli run-watchdog         # one watchdog run now (serve runs it every 2 min)
"""

import argparse
import json
import os
import sys
import uuid
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import boto3
import botocore.exceptions

from localdev import aws_setup
from localdev.lambda_context import SUBMIT_TIMEOUT_MS, WATCHDOG_TIMEOUT_MS, LocalLambdaContext
from localdev.runtime import LOCAL_REGION, load_function

DEFAULT_AWS_PORT = 5000  # moto_server's own default
DEFAULT_ENDPOINT = f"http://127.0.0.1:{DEFAULT_AWS_PORT}"
DEFAULT_TABLE = "local-runpod-callbacks"
STATE_MACHINE = "runpod-job"
"""Its task stores the record and waits: you play RunPod (the README's own-submitter wiring)."""
SUBMITTING_STATE_MACHINE = "runpod-submit-job"
"""Its task invokes the submit function (the README's wiring with the module's submitter)."""
SUBMIT_FUNCTION = "local-runpod-submit"
WATCHDOG_FUNCTION = "local-runpod-watchdog"
ENDPOINT_ID = "local-endpoint"


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    options = parser.parse_args(argv)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "local")  # moto takes any credentials
    # The functions run here log only what goes wrong; the summary line says the rest.
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    clients = {
        service: boto3.client(service, endpoint_url=options.endpoint, region_name=LOCAL_REGION)
        for service in ("dynamodb", "stepfunctions", "lambda")
    }
    try:
        return int(options.run(clients, options))
    except botocore.exceptions.EndpointConnectionError:
        return _fail(f"nothing answers at {options.endpoint}: is `make serve` running?")
    except botocore.exceptions.ClientError as error:
        details = error.response.get("Error", {})
        return _fail(f"{details.get('Code', 'Error')}: {_first_line(details.get('Message'))}")
    except (LookupError, TimeoutError, ValueError) as error:
        return _fail(_first_line(str(error)))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m localdev.local_cli", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--endpoint", default=DEFAULT_ENDPOINT, help=f"the local AWS (default {DEFAULT_ENDPOINT})"
    )
    parser.add_argument("--table", default=DEFAULT_TABLE, help="callback table name")
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start-execution", help="start an execution that waits for you")
    start.add_argument("--callback-token", default=None, help="default: a random one")
    start.add_argument("--job-id", default="", help="RunPod job id, empty: the webhook's")
    start.set_defaults(run=_start_execution)
    submit = commands.add_parser("submit-job", help="run a job through the submit function")
    submit.add_argument("--input", default='{"video": "s3://videos/seg_0001.mp4"}', help="JSON")
    submit.add_argument("--fail-with", default=None, help="the fake RunPod fails the job so")
    submit.set_defaults(run=_submit_job)
    commands.add_parser("executions", help="list the executions").set_defaults(run=_executions)
    describe = commands.add_parser("describe-execution", help="an execution's status and output")
    describe.add_argument("execution", help="its name (as printed) or ARN")
    describe.set_defaults(run=_describe_execution)
    commands.add_parser("records", help="list the callback records").set_defaults(run=_records)
    watchdog = commands.add_parser("run-watchdog", help="one watchdog run, now")
    watchdog.set_defaults(run=_run_watchdog)
    return parser


def _fail(message: str) -> int:
    print(f"local_cli: {message}", file=sys.stderr)
    return 1


def _first_line(text: object) -> str:
    lines = str(text or "").strip().splitlines()
    return lines[0][:300] if lines else "(no message)"


def _state_machine(stepfunctions: Any, name: str) -> str:
    for machine in stepfunctions.list_state_machines()["stateMachines"]:
        if machine["name"] == name:
            return str(machine["stateMachineArn"])
    raise LookupError(f"no state machine {name} at this endpoint: is it `make serve`'s?")


def _start_execution(clients: dict[str, Any], options: argparse.Namespace) -> int:
    stepfunctions, dynamodb = clients["stepfunctions"], clients["dynamodb"]
    token = options.callback_token or uuid.uuid4().hex
    execution, _ = aws_setup.start_waiting_execution(
        stepfunctions,
        _state_machine(stepfunctions, STATE_MACHINE),
        segment_filename="seg_0002.mp4",
        job_id=options.job_id,
        callback_token=token,
    )
    aws_setup.wait_for_record(dynamodb, options.table, token)
    print(f"Execution {_name(execution)} waits on callback token {token}")
    return 0


def _submit_job(clients: dict[str, Any], options: argparse.Namespace) -> int:
    """Start an execution of the submitting machine and run the submit function with the payload
    Step Functions scheduled, as Lambda would; the fake RunPod then calls the webhook."""
    job_input = json.loads(options.input)
    if options.fail_with:
        job_input["fail_with"] = options.fail_with
    stepfunctions = clients["stepfunctions"]
    execution = aws_setup.start_submitting_execution(
        stepfunctions,
        _state_machine(stepfunctions, SUBMITTING_STATE_MACHINE),
        endpoint_id=ENDPOINT_ID,
        job_input=job_input,
        segment_filename="seg_0003.mp4",
    )
    payload = aws_setup.scheduled_lambda_payload(stepfunctions, execution)
    submit = _load(clients["lambda"], SUBMIT_FUNCTION, "submit", options.endpoint)
    result = submit.lambda_handler(payload, LocalLambdaContext(remaining_time_ms=SUBMIT_TIMEOUT_MS))
    print(f"Execution {_name(execution)} submitted RunPod job {result['job_id']}")
    return 0


def _run_watchdog(clients: dict[str, Any], options: argparse.Namespace) -> int:
    watchdog = _load(clients["lambda"], WATCHDOG_FUNCTION, "watchdog", options.endpoint)
    summary = watchdog.lambda_handler({}, LocalLambdaContext(remaining_time_ms=WATCHDOG_TIMEOUT_MS))
    counts = ", ".join(f"{name} {count}" for name, count in summary.items() if count)
    print(f"Watchdog run: {counts or 'nothing stale'}")
    return 0


def _load(lambda_client: Any, function_name: str, module: str, endpoint: str) -> Any:
    """lambda/<module>.py with the environment `make serve` registered for the function."""
    try:
        configuration = lambda_client.get_function_configuration(FunctionName=function_name)
    except lambda_client.exceptions.ResourceNotFoundException:
        raise LookupError(
            f"no function {function_name} at this endpoint: is it `make serve`'s?"
        ) from None
    settings = configuration.get("Environment", {}).get("Variables", {})
    return load_function(module, endpoint, **settings)


def _executions(clients: dict[str, Any], options: argparse.Namespace) -> int:
    rows = [("execution", "state machine", "status", "started")]
    for machine, execution in _all_executions(clients["stepfunctions"]):
        started = execution["startDate"].isoformat(timespec="seconds")
        rows.append((execution["name"], machine, execution["status"], started))
    _print_rows(rows)
    return 0


def _all_executions(stepfunctions: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    for machine in stepfunctions.list_state_machines()["stateMachines"]:
        pages = stepfunctions.get_paginator("list_executions").paginate(
            stateMachineArn=machine["stateMachineArn"]
        )
        for page in pages:
            for execution in page["executions"]:
                yield machine["name"], execution


def _describe_execution(clients: dict[str, Any], options: argparse.Namespace) -> int:
    stepfunctions = clients["stepfunctions"]
    arn = options.execution
    if not arn.startswith("arn:"):
        found = [e["executionArn"] for _, e in _all_executions(stepfunctions) if e["name"] == arn]
        if not found:
            raise LookupError(f"no execution named {arn} (see the executions command)")
        arn = found[0]
    execution = stepfunctions.describe_execution(executionArn=arn)
    print(f"Execution {execution['name']}: {execution['status']}")
    if execution["status"] == "SUCCEEDED":
        print(json.dumps(json.loads(execution.get("output") or "null"), indent=2))
    elif execution["status"] != "RUNNING":
        failure = aws_setup.execution_failure(stepfunctions, arn)
        print(f"error: {failure.get('error', '(none)')}")
        if failure.get("cause"):
            print(f"cause: {failure['cause']}")
    return 0


def _records(clients: dict[str, Any], options: argparse.Namespace) -> int:
    items = clients["dynamodb"].scan(TableName=options.table)["Items"]
    rows = [("callback_token", "job_id", "status", "completed_at")]
    for item in sorted(items, key=lambda row: row.get("created_at", {}).get("S", "")):
        rows.append(
            (
                item["callback_token"]["S"],
                item.get("job_id", {}).get("S", ""),
                item.get("status", {}).get("S", ""),
                item.get("completed_at", {}).get("S", ""),
            )
        )
    _print_rows(rows)
    return 0


def _print_rows(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        print("  ".join(cells).rstrip())


def _name(execution_arn: str) -> str:
    return execution_arn.rsplit(":", 1)[-1]


if __name__ == "__main__":
    sys.exit(main())
