"""Whatever arrives that is not this job's webhook: a 4xx, no record change, no SendTask* call."""

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.conftest import LocalWebhook

JOB_ID = "runpod-job-123"
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
statuses = (
    st.sampled_from(["COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT", "IN_QUEUE"]) | json_values
)
job_ids = st.text(max_size=300).filter(lambda job_id: job_id != JOB_ID) | json_values
job_bodies = st.fixed_dictionaries(
    {},
    optional={"id": job_ids, "status": statuses, "output": json_values, "error": json_values},
).map(json.dumps)
bodies = job_bodies | json_values.map(json.dumps) | st.text(max_size=200)
tokens = st.text(max_size=200) | st.from_regex(r"[A-Za-z0-9._~-]{1,128}", fullmatch=True)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(use_live_token=st.booleans(), random_token=tokens, raw_body=bodies)
def test_foreign_or_malformed_webhooks_change_nothing(
    local_webhook: LocalWebhook,
    live_job: Any,
    sent_tasks: list[str],
    use_live_token: bool,
    random_token: str,
    raw_body: str,
) -> None:
    before = local_webhook.all_records()
    token = live_job.callback_token if use_live_token else random_token

    response = local_webhook.deliver(token, raw_body)

    assert response["statusCode"] in (400, 404, 409)
    assert local_webhook.all_records() == before
    assert sent_tasks == []
