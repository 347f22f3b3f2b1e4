"""The README's Metrics list names exactly the metrics the functions emit."""

import re

from localdev.runtime import LAMBDA_SOURCE
from runpod_callbacks.metric_names import Metric
from tests.terraform.tf_tools import REPO


def metrics_in_readme() -> set[str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("**Metrics**", 1)[1].split("Optional alarms", 1)[0]
    return set(re.findall(r"`([A-Z]\w+)`", section)) - {"RunPodWebhook"}


def test_readme_lists_every_metric_the_functions_emit_and_no_other() -> None:
    assert metrics_in_readme() == {str(metric) for metric in Metric}


def test_every_metric_named_is_emitted_somewhere() -> None:
    code = "\n".join(
        path.read_text() for path in LAMBDA_SOURCE.rglob("*.py") if path.name != "metric_names.py"
    )

    assert [metric.name for metric in Metric if f"Metric.{metric.name}" not in code] == []
