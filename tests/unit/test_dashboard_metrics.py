"""The dashboard shows only metrics the code emits (our namespace) or AWS publishes."""

import re

from runpod_callbacks.metric_names import Metric
from tests.terraform.tf_tools import REPO

DASHBOARD_TF = (REPO / "dashboard.tf").read_text()
# Lambda's and API Gateway's own metrics, which the dashboard shows beside ours.
AWS_METRICS = {"Errors", "Throttles", "Duration", "4XXError", "5XXError", "Count", "Latency"}


def dashboard_metric_names() -> tuple[set[str], set[str]]:
    """(names shown in our namespace, names shown in AWS/ namespaces); a `for name in [...]`
    list takes the namespace of the row built within its next two lines."""
    ours, theirs = set(), set()
    for names, row in re.findall(r"for name in \[([^\]]*)\][^\n]*\n([^\n]*\n[^\n]*)", DASHBOARD_TF):
        listed = set(re.findall(r'"([^"]+)"', names))
        (ours if "local.metrics_namespace" in row else theirs).update(listed)
    ours |= set(re.findall(r'\[local\.metrics_namespace, "([A-Za-z]+)"', DASHBOARD_TF))
    ours |= set(re.findall(r'MetricName=\\"([A-Za-z]+)\\"', DASHBOARD_TF))
    theirs |= set(re.findall(r'\["AWS/\w+", "([A-Za-z0-9]+)"', DASHBOARD_TF))
    return ours, theirs


def test_every_metric_of_ours_on_the_dashboard_is_one_the_code_emits() -> None:
    ours, _ = dashboard_metric_names()

    assert len(ours) >= 20  # the parse found the widgets
    assert ours - {metric.value for metric in Metric} == set()


def test_the_dashboard_shows_the_issues_outcomes_and_the_watchdogs_signals() -> None:
    ours, theirs = dashboard_metric_names()

    assert {
        "TaskSucceeded",
        "TaskFailed",
        "DuplicateDelivery",
        "TaskExpired",
        "RecoveredByWatchdog",
        "JobLost",
        "OrphanJobCancelled",
        "WatchdogBehind",
        "RunPodUnanswered",
        "WatchdogErrors",
        "OldestWaitSeconds",
        "EstimatedGpuCost",
        "RunPodDelayTime",
        "RunPodExecutionTime",
    } <= ours
    assert theirs <= AWS_METRICS
    assert {"Errors", "Throttles", "Duration", "4XXError", "5XXError", "Latency"} <= theirs
