"""An execution that stopped: Step Functions' "Step Functions Execution Status Change" event, and
the callback records of its waiting tasks, found by the table's ``execution_arn`` index (never a
Scan). Records carry ``execution_arn`` when their writer gave it (the submit function's
``execution_arn``, $$.Execution.Id; an own submitter's item)."""

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, NamedTuple

from runpod_callbacks.dynamodb_values import from_item
from runpod_callbacks.record_table import RecordStatus, RecordTable

EXECUTION_INDEX = "execution_arn"
STOPPED_STATUSES = frozenset({"ABORTED", "TIMED_OUT", "FAILED"})
STATUS_CHANGE = "Step Functions Execution Status Change"


class StoppedExecution(NamedTuple):
    execution_arn: str
    status: str
    stopped_at: datetime | None


def stopped_execution(event: Any) -> StoppedExecution | None:
    """The execution an EventBridge event says stopped, or None for any other event."""
    if not isinstance(event, Mapping) or event.get("detail-type") != STATUS_CHANGE:
        return None
    detail = event.get("detail")
    if not isinstance(detail, Mapping):
        return None
    arn, status, stop_ms = detail.get("executionArn"), detail.get("status"), detail.get("stopDate")
    if not isinstance(arn, str) or status not in STOPPED_STATUSES:
        return None
    stopped_at = None
    if isinstance(stop_ms, int) and not isinstance(stop_ms, bool):
        stopped_at = datetime.fromtimestamp(stop_ms / 1000, UTC)
    return StoppedExecution(arn, str(status), stopped_at)


class ExecutionRecords:
    def __init__(self, table: RecordTable) -> None:
        self._table = table

    def pending_of(self, execution_arn: str) -> Iterator[dict[str, Any]]:
        """The execution's PENDING records (keys, status, job_id, endpoint_id)."""
        request: dict[str, Any] = {
            "IndexName": EXECUTION_INDEX,
            "KeyConditionExpression": "execution_arn = :arn",
            "ExpressionAttributeValues": {":arn": {"S": execution_arn}},
        }
        while True:
            page = self._table.call("Query", **request)
            for record in map(from_item, page.get("Items", [])):
                if record.get("status") == RecordStatus.PENDING:
                    yield record
            if "LastEvaluatedKey" not in page:
                return
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
