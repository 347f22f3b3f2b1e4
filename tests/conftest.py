"""Settings every test shares. The handler reads its environment at import, so set it first."""

import os

import pytest

os.environ.update(
    {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "CALLBACK_TABLE_NAME": "test-runpod-callbacks",
        # The submit function's settings; tests that submit point them at their fakes.
        "WEBHOOK_BASE_URL": "http://127.0.0.1:9/webhook",
        "RUNPOD_API_KEY_SECRET_ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:unset",
        "POWERTOOLS_SERVICE_NAME": "runpod-webhook",
        "POWERTOOLS_METRICS_NAMESPACE": "RunPodWebhookTests",
        "LOG_LEVEL": "INFO",
    }
)
for variable in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "POWERTOOLS_TRACE_DISABLED"):
    os.environ.pop(variable, None)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With CI=true every test must run: a skip turns the run red."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"} and skipped:
        if reporter:
            reporter.write_line(f"CI=true: {len(skipped)} test(s) skipped; failing the run")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
