"""The README's Metrics list names exactly the metrics the functions emit."""

import re

from localdev.runtime import LAMBDA_SOURCE
from tests.terraform.tf_tools import REPO

# Every way the code names a metric: error classes, Delivered(...), add_metric / _answer calls.
METRIC_IN_CODE = re.compile(
    r'metric_name = "(\w+)"|Delivered\(\s*"(\w+)"|name="(\w+)", unit|_answer\([^"\n]*"(\w+)"'
)


def metrics_in_code() -> set[str]:
    names: set[str] = set()
    for path in LAMBDA_SOURCE.rglob("*.py"):
        for match in METRIC_IN_CODE.finditer(path.read_text()):
            names.update(group for group in match.groups() if group)
    names.discard("WebhookError")  # the base class's placeholder, never emitted
    return names


def metrics_in_readme() -> set[str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("**Metrics**", 1)[1].split("Optional alarms", 1)[0]
    return set(re.findall(r"`([A-Z]\w+)`", section)) - {"RunPodWebhook"}


def test_readme_lists_every_metric_the_functions_emit_and_no_other() -> None:
    assert metrics_in_readme() == metrics_in_code() | {"RunPodDelayTime", "RunPodExecutionTime"}
