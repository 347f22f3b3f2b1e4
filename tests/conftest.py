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


# pytest-xdist hands its workers one scope (a module, or a class) after another in collection
# order (--dist loadscope --no-loadscope-reorder). These take from about 40 s to 100 s on the
# project's 2-core development machine: they go first, so none of them starts last. Roughly longest
# first (`terraform test` leads: it is all CPU, so it stretches most when the cores are shared),
# with the two one-test upgrade classes apart: a worker is sent its next scope as soon as two
# tests or fewer are left on it, so adjacent ones would queue on the same worker.
LONGEST_FIRST = (
    "tests/terraform/test_module.py",
    "tests/terraform/test_state_migration.py::TestTheModuleAlone",
    "tests/terraform/test_complete_example.py",
    "tests/terraform/test_state_migration.py::TestTheModuleWithTheSubmitFunction",
    "tests/terraform/test_moto_apply_large_outputs.py",
    "tests/terraform/test_state_migration.py::TestTheStatusIndex",
    "tests/terraform/test_moto_apply_watchdog.py",
    "tests/terraform/test_moto_apply.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The LONGEST_FIRST scopes first; every other test keeps its place."""

    def rank(item: pytest.Item) -> int:
        scope = item.nodeid.rsplit("::", 1)[0]  # as pytest-xdist's loadscope splits it
        return LONGEST_FIRST.index(scope) if scope in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With CI=true every test must run: a skip turns the run red."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"} and skipped:
        if reporter:
            reporter.write_line(f"CI=true: {len(skipped)} test(s) skipped; failing the run")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
