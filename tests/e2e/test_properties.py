"""Properties over generated webhooks. Without an injected AWS fault, no answer is ever a 5xx:

- whatever arrives that is not this job's webhook: a 4xx, no record change, no SendTask* call;
- whatever finished job RunPod reports: one SendTask* call carrying RunPod's values exactly,
  the record leaves PENDING, and a repeat changes nothing.
"""

import json
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from localdev.local_webhook import LocalWebhook
from tests.e2e.conftest import SentTasks

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
bodies = job_bodies | json_values.map(json.dumps) | st.text(max_size=200) | st.binary(max_size=50)
tokens = st.text(max_size=200) | st.from_regex(r"[A-Za-z0-9._~-]{1,128}", fullmatch=True)

PROPERTY_SETTINGS = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@PROPERTY_SETTINGS
@given(use_live_token=st.booleans(), random_token=tokens, raw_body=bodies)
def test_foreign_or_malformed_webhooks_change_nothing(
    local_webhook: LocalWebhook,
    live_job: Any,
    sent_tasks: SentTasks,
    use_live_token: bool,
    random_token: str,
    raw_body: str | bytes,
) -> None:
    before = local_webhook.all_records()
    token = live_job.callback_token if use_live_token else random_token

    response = local_webhook.deliver(token, raw_body)

    assert response["statusCode"] < 500
    assert response["statusCode"] in (400, 404, 409)
    assert local_webhook.all_records() == before
    assert sent_tasks == []


# JSON as RunPod's workers write it: numbers of any size and precision, strings with any code
# point (lone surrogates as escapes), keys DynamoDB would refuse, nesting deeper than it allows.
json_numbers = st.integers(min_value=-(10**60), max_value=10**60).map(str) | st.decimals(
    allow_nan=False, allow_infinity=False
).map(str)
lone_surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF, categories=["Cs"])
json_strings = st.text(st.characters() | lone_surrogates, max_size=12).map(json.dumps)
json_texts = st.recursive(
    st.sampled_from(["null", "true", "false"]) | json_numbers | json_strings,
    lambda children: (
        st.lists(children, max_size=4).map(lambda items: "[" + ",".join(items) + "]")
        | st.lists(st.tuples(json_strings, children), max_size=4).map(
            lambda members: "{" + ",".join(f"{key}:{value}" for key, value in members) + "}"
        )
    ),
    max_leaves=25,
)


@PROPERTY_SETTINGS
@given(
    status=st.sampled_from(["COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"]),
    output=json_texts,
    error=json_texts,
    delay=json_numbers | json_strings,
)
def test_every_finished_job_resumes_its_task_once_with_runpods_values(
    local_webhook: LocalWebhook,
    sent_tasks: SentTasks,
    status: str,
    output: str,
    error: str,
    delay: str,
) -> None:
    job = local_webhook.start_job()
    sent_tasks.clear()
    raw = (
        f'{{"id": "{JOB_ID}", "status": "{status}", "output": {output}, "error": {error},'
        f' "delayTime": {delay}, "executionTime": 1200}}'
    )

    first = local_webhook.deliver(job.callback_token, raw)
    repeated = local_webhook.deliver(job.callback_token, raw)

    assert (first["statusCode"], repeated["statusCode"]) == (200, 200), first["body"]
    assert len(sent_tasks) == 1
    record = local_webhook.record(job.callback_token)
    assert record is not None
    assert record["status"] == ("COMPLETED" if status == "COMPLETED" else "FAILED")
    assert "lease_expires_at" not in record
    if status == "COMPLETED":
        assert sent_tasks.output()["output"] == _exactly(output)
    else:
        cause = json.loads(sent_tasks.failure()["cause"])
        assert sent_tasks.failure()["error"] == f"RunPod.{status}"
        assert cause["job_id"] == JOB_ID


def _exactly(json_text: str) -> Any:
    return json.loads(json_text, parse_float=Decimal)
