"""What the functions' log lines carry about a job, and what they never carry whole.

Every line logged while a job is handled carries its keys (``callback``, the callback token
redacted; ``job_id``; ``endpoint_id``; and on the line that says how it ended, ``outcome``), so
one job's story can be read across the four functions (Logs Insights queries in logs.tf). The
keys are kept per thread: the watchdog's workers log side by side. Each entry module's
``Logger()`` and the package's child loggers (``Logger(child=True)``) take their service from
POWERTOOLS_SERVICE_NAME, which each function sets: a line's ``service`` names its function.

The callback token (the webhook's bearer secret) appears only redacted, whatever RunPod's texts
quote. The task token and the RunPod API key never reach a log line at all: nothing logs them,
and RunPod's texts pass through runpod_api, which replaces the key before anyone sees them.
"""

import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from aws_lambda_powertools import Logger

logger = Logger(child=True)

# A webhook URL's last segment, as RunPod may quote it in any text: plain, JSON-escaped
# (``\\/``) or URL-encoded (``%2F``); one redacted already (ending in "…") is left as it is.
_WEBHOOK_TOKEN = re.compile(r"(webhook(?:/|\\/|%2[Ff]))([A-Za-z0-9._~-]{1,128}+)(?!…)")


def redact(callback_token: str) -> str:
    """A short prefix: enough to correlate log lines, never enough to call the webhook."""
    return callback_token[: min(4, len(callback_token) // 4)] + "…"


def scrub(text: str, *callback_tokens: str) -> str:
    """The text with every webhook URL's token, and each token given, redacted."""
    text = _WEBHOOK_TOKEN.sub(lambda match: match.group(1) + redact(match.group(2)), text)
    for token in callback_tokens:
        if token:
            text = text.replace(token, redact(token))
    return text


@contextmanager
def about_job(callback_token: str, job_id: str, endpoint_id: str | None = None) -> Iterator[None]:
    """Every line this thread logs in the block carries the job's keys (those known: a job id
    learnt inside the block is added with job_id_learnt)."""
    keys = {"callback": redact(callback_token), "job_id": job_id, "endpoint_id": endpoint_id}
    logger.thread_safe_append_keys(**{name: value for name, value in keys.items() if value})
    try:
        yield
    finally:
        logger.thread_safe_remove_keys(["callback", "job_id", "endpoint_id"])


def job_id_learnt(job_id: str) -> None:
    logger.thread_safe_append_keys(job_id=job_id)


def log_outcome(
    message: str,
    outcome: str,
    *,
    warning: bool = False,
    facts: Mapping[str, object] | None = None,
) -> None:
    """The line that says how the job's handling ended, with ``outcome`` (and any ``facts``, such
    as RunPod's times) as keys of their own."""
    known = {name: value for name, value in (facts or {}).items() if value is not None}
    (logger.warning if warning else logger.info)(message, extra={"outcome": outcome, **known})
