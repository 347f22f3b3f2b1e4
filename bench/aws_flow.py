"""A job's whole flow on moto, as `make bench` measures it: what the module's functions ask of AWS.

The demo's local system runs in-process under moto (state machines really execute): a state
machine whose task invokes the submit function, the fake RunPod, and the webhook behind a loopback
API Gateway. Hooks on the functions' own botocore clients count every request per service and
operation, and snapshot each DynamoDB item before and after each write (through a client of the
bench's own, not counted), so the request units follow from the items as DynamoDB bills them
(bench/dynamodb_units.py). Calls the state machine makes itself (the Lambda invoke, its own
history) are not counted: the user's workflow pays for those whatever resumes it.

The functions log at INFO; their JSON log lines and EMF metric lines are counted in bytes, as
CloudWatch Logs ingests them.
"""

import contextlib
import io
import json
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from types import ModuleType
from typing import Any

from bench import dynamodb_units
from bench.in_process_aws import function_clients, output_to
from localdev import aws_setup
from localdev.demo import (
    ENDPOINT_ID,
    STALE_AFTER_SECONDS,
    TABLE,
    LocalSystem,
    set_up_local_system,
)
from localdev.fake_runpod import FakeRunPod, serve_fake_runpod
from localdev.lambda_context import SUBMIT_TIMEOUT_MS, WATCHDOG_TIMEOUT_MS, LocalLambdaContext
from localdev.local_aws import in_process_aws
from localdev.loopback import post_json
from localdev.runtime import load_function
from localdev.webhook_server import serve_webhook

JOB_INPUT = {"video": "s3://videos/seg_0001.mp4", "scale": 2}
# RunPod ends the job after this long: the submit function has recorded the job id by then.
JOB_SECONDS = 0.5
INDEX_NAME = "pending_shard-created_at"
# The reads the functions make, and whether they read strongly consistently: the index Query
# (eventually; a GSI has no other kind) and the watchdog's GetItem of its cursor (strongly).
READS = {"Query": False, "GetItem": True}


@dataclass
class DynamoDbRequest:
    operation: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    """The item after the write; for a write its condition refused, the item it tried to write."""
    succeeded: bool = True
    returned: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Phase:
    """What one step of the flow asked of AWS and wrote to its logs."""

    requests: Counter[str] = field(default_factory=Counter)
    """Per "function: service Operation"."""
    dynamodb: list[DynamoDbRequest] = field(default_factory=list)
    log_bytes: int = 0
    metric_names: set[str] = field(default_factory=set)

    @property
    def request_count(self) -> int:
        return sum(self.requests.values())

    def aws_requests(self, service: str) -> int:
        return sum(n for name, n in self.requests.items() if f": {service} " in name)

    def write_units(self, index: dynamodb_units.GlobalIndex, token_length: int | None) -> int:
        """WRU of the table and the index, task tokens padded to ``token_length`` if given."""
        units = 0
        for request in self.dynamodb:
            if request.operation in READS:
                continue
            before = with_task_token_length(request.before, token_length)
            after = with_task_token_length(request.after, token_length)
            units += dynamodb_units.write_units(before, after)
            if request.succeeded:
                units += dynamodb_units.index_write_units(before, after, index)
        return units

    def read_units(self, token_length: int | None) -> float:
        return sum(
            dynamodb_units.query_read_units(
                [with_task_token_length(item, token_length) or {} for item in request.returned],
                consistent=READS[request.operation],
            )
            for request in self.dynamodb
            if request.operation in READS
        )


@dataclass
class Flow:
    phases: dict[str, Phase]
    index: dynamodb_units.GlobalIndex
    record: dict[str, Any]
    """The finished job's record, as it stays in the table until its ttl."""
    task_token_length: int


class _JsonLines(io.TextIOBase):
    """Stdout and the loggers' stream during the flow: counts the JSON lines written (the
    functions' log records and EMF metric blobs); anything else goes to the real stdout."""

    def __init__(self, passthrough: Any) -> None:
        self._passthrough = passthrough
        self._pending = ""
        self.phase: Phase | None = None

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            self._count(line)
        return len(text)

    def _count(self, line: str) -> None:
        if not line.startswith("{"):
            self._passthrough.write(line + "\n")
            return
        if self.phase is None:
            return
        self.phase.log_bytes += len(line.encode())
        document = json.loads(line)
        for directive in document.get("_aws", {}).get("CloudWatchMetrics", []):
            self.phase.metric_names.update(metric["Name"] for metric in directive["Metrics"])


class _Recorder:
    def __init__(self, dynamodb: Any, table_name: str, output: _JsonLines) -> None:
        self._dynamodb = dynamodb  # the bench's own client: its requests are not counted
        self._table_name = table_name
        self._output = output
        self._phase: Phase | None = None
        self.problems: list[str] = []
        """What the hooks could not account for; raising there would fail the function instead."""
        table = dynamodb.describe_table(TableName=table_name)["Table"]
        self.key = tuple(element["AttributeName"] for element in table["KeySchema"])
        (index,) = [
            gsi for gsi in table["GlobalSecondaryIndexes"] if gsi["IndexName"] == INDEX_NAME
        ]
        self.index = dynamodb_units.GlobalIndex(
            name=INDEX_NAME,
            table_key=self.key,
            index_key=tuple(element["AttributeName"] for element in index["KeySchema"]),
            projected=tuple(index["Projection"].get("NonKeyAttributes", ())),
        )
        self._scratch = f"{table_name}-bench-scratch"
        dynamodb.create_table(
            TableName=self._scratch,
            KeySchema=table["KeySchema"],
            AttributeDefinitions=[
                definition
                for definition in table["AttributeDefinitions"]
                if definition["AttributeName"] in self.key
            ],
            BillingMode="PAY_PER_REQUEST",
        )

    @contextlib.contextmanager
    def watching(self, functions: dict[str, ModuleType]) -> Iterator[None]:
        """Hooks on the functions' clients while the block runs."""
        hooks: list[tuple[Any, str, Callable[..., None]]] = []
        for name, function in functions.items():
            for client in function_clients(function):
                hooks.append((client.meta.events, "before-call", partial(self._count, name)))
                if client.meta.service_model.service_name == "dynamodb":
                    hooks.append(
                        (client.meta.events, "before-parameter-build.dynamodb", self._before)
                    )
                    hooks.append((client.meta.events, "after-call.dynamodb", self._after))
        for events, event, hook in hooks:
            events.register(event, hook)
        try:
            yield
        finally:
            for events, event, hook in hooks:
                events.unregister(event, hook)

    @contextlib.contextmanager
    def phase(self) -> Iterator[Phase]:
        phase = Phase()
        self._phase = self._output.phase = phase
        try:
            yield phase
        finally:
            self._phase = self._output.phase = None

    def _count(self, function_name: str, model: Any, **_: Any) -> None:
        if self._phase is not None:
            service = model.service_model.service_name
            self._phase.requests[f"{function_name}: {service} {model.name}"] += 1

    def _before(
        self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        if self._phase is None:
            return
        if model.name in ("PutItem", "UpdateItem"):
            key = params.get("Key") or {name: params["Item"][name] for name in self.key}
            context["bench_request"] = (dict(params), key, self._item(self._table_name, key))
        elif model.name not in READS:
            self.problems.append(f"no request unit rule for DynamoDB {model.name}")

    def _after(self, parsed: dict[str, Any], model: Any, context: dict[str, Any], **_: Any) -> None:
        if self._phase is None:
            return
        if model.name in READS:
            found = parsed.get("Items") or ([parsed["Item"]] if "Item" in parsed else [])
            self._phase.dynamodb.append(DynamoDbRequest(model.name, returned=found))
            return
        if "bench_request" not in context:  # the phase began while the request was on its way
            return
        params, key, before = context["bench_request"]
        error = parsed.get("Error", {}).get("Code")
        if error is None:
            after = self._item(self._table_name, key)
            self._phase.dynamodb.append(DynamoDbRequest(model.name, before, after))
        elif error == "ConditionalCheckFailedException":
            would_be = self._would_be(model.name, params, key, before)
            self._phase.dynamodb.append(DynamoDbRequest(model.name, before, would_be, False))
        else:
            self.problems.append(f"DynamoDB {model.name} failed on moto: {error}")

    def _would_be(
        self, operation: str, params: dict[str, Any], key: dict[str, Any], before: Any
    ) -> dict[str, Any] | None:
        """The item a refused write tried to write: the same request, on a copy of the item in
        the scratch table, with a condition that holds."""
        self._dynamodb.delete_item(TableName=self._scratch, Key=key)
        if before is not None:
            self._dynamodb.put_item(TableName=self._scratch, Item=before)
        request = {
            name: value
            for name, value in params.items()
            if name not in ("ReturnValues", "ReturnValuesOnConditionCheckFailure")
        }
        request["TableName"] = self._scratch
        request["ConditionExpression"] = (
            f"({params['ConditionExpression']}) OR attribute_not_exists(#bench_never_set)"
        )
        request["ExpressionAttributeNames"] = {
            **params.get("ExpressionAttributeNames", {}),
            "#bench_never_set": "bench_never_set",
        }
        call = {"PutItem": self._dynamodb.put_item, "UpdateItem": self._dynamodb.update_item}
        call[operation](**request)
        return self._item(self._scratch, key)

    def _item(self, table_name: str, key: dict[str, Any]) -> dict[str, Any] | None:
        answer = self._dynamodb.get_item(TableName=table_name, Key=key, ConsistentRead=True)
        item: dict[str, Any] | None = answer.get("Item")
        return item


def measure_flow() -> Flow:
    """Submit a job and resume it by its webhook; RunPod retries the webhook; the watchdog runs
    with nothing to do; a second job's webhooks are all lost and the watchdog recovers it."""

    with in_process_aws():
        webhook_function = load_function("webhook", None, CALLBACK_TABLE_NAME=TABLE)
        runpod = FakeRunPod(job_delay_s=JOB_SECONDS)
        with (
            serve_fake_runpod(runpod) as runpod_api,
            serve_webhook(webhook_function.lambda_handler) as url,
        ):
            system = set_up_local_system(None, runpod, runpod_api, f"{url}/webhook")
            output = _JsonLines(sys.stdout)
            recorder = _Recorder(system.dynamodb, TABLE, output)
            functions = {
                "submit": system.submit,
                "webhook": webhook_function,
                "watchdog": system.watchdog,
            }
            with contextlib.ExitStack() as watched:
                watched.enter_context(recorder.watching(functions))
                for function in functions.values():
                    watched.enter_context(output_to(function, output))
                phases, callback_token = _play(system, recorder)
            _expect(not recorder.problems, "; ".join(recorder.problems))
            record = system.dynamodb.get_item(
                TableName=TABLE,
                Key={"callback_token": {"S": callback_token}},
                ConsistentRead=True,
            )["Item"]
    return Flow(phases, recorder.index, record, len(record["task_token"]["S"]))


def _play(system: LocalSystem, recorder: _Recorder) -> tuple[dict[str, Phase], str]:
    phases: dict[str, Phase] = {}
    with recorder.phase() as phases["submit"]:
        execution = _submit(system)
    with recorder.phase() as phases["webhook"]:
        (call,) = system.runpod.wait_for_webhooks()
        _expect(call.statuses == [200], f"the webhook answered {call.statuses}")
        _expect_execution(system, execution)
    with recorder.phase() as phases["duplicate"]:
        status, answer = post_json(call.url, json.dumps(call.body))
        _expect(status == 200 and b"already" in answer, f"the retry got {status}: {answer!r}")
    with recorder.phase() as phases["watchdog, nothing to do"]:
        summary = _watchdog(system)
        _expect(not any(summary.values()), f"the watchdog found work: {summary}")
    system.runpod.webhooks_lost = True
    lost = _submit(system)
    system.runpod.wait_for_webhooks()
    time.sleep(STALE_AFTER_SECONDS + 1.1)  # created_at is compared as text, to the millisecond
    with recorder.phase() as phases["watchdog, recovering"]:
        summary = _watchdog(system)
        _expect(summary["recovered"] == 1, f"the watchdog did not recover the job: {summary}")
        _expect_execution(system, lost)
    return phases, call.url.rsplit("/", 1)[-1]


def _submit(system: LocalSystem) -> str:
    """Start an execution and run the submit function with what Step Functions hands it."""
    execution = aws_setup.start_submitting_execution(
        system.stepfunctions,
        system.state_machine_arn,
        endpoint_id=ENDPOINT_ID,
        job_input=JOB_INPUT,
        segment_filename="seg_0001.mp4",
    )
    payload = aws_setup.scheduled_lambda_payload(system.stepfunctions, execution)
    submitted = system.submit.lambda_handler(
        payload, LocalLambdaContext(remaining_time_ms=SUBMIT_TIMEOUT_MS)
    )
    _expect(submitted["status"] == "SUBMITTED", f"the submit function returned {submitted}")
    return execution


def _watchdog(system: LocalSystem) -> dict[str, int]:
    context = LocalLambdaContext(remaining_time_ms=WATCHDOG_TIMEOUT_MS)
    summary: dict[str, int] = system.watchdog.lambda_handler({}, context)
    return summary


def _expect_execution(system: LocalSystem, execution: str) -> None:
    final = aws_setup.wait_for_execution(system.stepfunctions, execution)
    _expect(final["status"] == "SUCCEEDED", f"the execution ended {final['status']}")


def _expect(condition: bool, failure: str) -> None:
    """The flow must be the one measured; anything else is a broken bench, not a figure."""
    if not condition:
        raise RuntimeError(f"bench flow: {failure}")


def with_task_token_length(
    item: dict[str, Any] | None, token_length: int | None
) -> dict[str, Any] | None:
    """The item with its task token lengthened to ``token_length`` characters (AWS's tokens are
    longer than moto's), or as it is."""
    if item is None or token_length is None or "task_token" not in item:
        return item
    token = item["task_token"]["S"]
    return {**item, "task_token": {"S": token.ljust(token_length, "A")}}
