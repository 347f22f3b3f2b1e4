"""docs/operations.md's Metrics list names exactly the metrics the functions emit, and the README's
HTTP contract names only those."""

import re

from localdev.runtime import LAMBDA_SOURCE
from runpod_callbacks.metric_names import Metric
from tests.terraform.tf_tools import REPO


def section(text: str, heading: str) -> str:
    return text.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]


def metrics_in_operations() -> set[str]:
    operations = (REPO / "docs" / "operations.md").read_text()
    return set(re.findall(r"`([A-Z]\w+)`", section(operations, "## Metrics"))) - {"RunPodWebhook"}


def test_operations_lists_every_metric_the_functions_emit_and_no_other() -> None:
    assert metrics_in_operations() == {str(metric) for metric in Metric}


def test_the_readmes_http_contract_names_each_answer_of_the_webhook_by_its_metric() -> None:
    contract = section((REPO / "README.md").read_text(), "## The webhook's HTTP contract")
    rows = [line for line in contract.splitlines() if line.startswith("| ")][2:]
    metrics = {re.findall(r"\(`([A-Z]\w+)`\)", row)[-1] for row in rows}
    webhook_answers = set(Metric) - {
        metric
        for metric in Metric
        if metric.startswith(("Submit", "RunPod", "Estimated"))
        or metric
        in {
            Metric.JOB_ID_NOT_RECORDED,
            Metric.INVALID_REQUEST,
            Metric.RECOVERED_BY_WATCHDOG,
            Metric.JOB_LOST,
            Metric.ORPHAN_JOB_CANCELLED,
            Metric.WATCHDOG_BEHIND,
            Metric.WATCHDOG_ERRORS,
            Metric.OLDEST_WAIT,
        }
    }

    assert metrics == {str(metric) for metric in webhook_answers}


def test_every_metric_named_is_emitted_somewhere() -> None:
    code = "\n".join(
        path.read_text() for path in LAMBDA_SOURCE.rglob("*.py") if path.name != "metric_names.py"
    )

    assert [metric.name for metric in Metric if f"Metric.{metric.name}" not in code] == []
