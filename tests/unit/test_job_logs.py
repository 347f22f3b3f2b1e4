"""The callback token (the webhook's bearer secret) reaches log lines only redacted, however
RunPod's text quotes the webhook URL that carries it."""

import pytest

from runpod_callbacks.job_logs import redact, scrub

TOKEN = "Dpm1Uj0RBaTjhNP9NJiRb0U0Eira7qsA"


@pytest.mark.parametrize(
    "quoted",
    [
        f"https://api.example/v1/webhook/{TOKEN}",
        f'{{"webhook": "https:\\/\\/api.example\\/v1\\/webhook\\/{TOKEN}"}}',  # JSON-escaped
        f"https%3A%2F%2Fapi.example%2Fv1%2Fwebhook%2F{TOKEN}",  # URL-encoded
    ],
    ids=["plain", "json-escaped", "url-encoded"],
)
def test_a_quoted_webhook_url_keeps_only_the_tokens_prefix(quoted: str) -> None:
    scrubbed = scrub(f"RunPod says: bad job, webhook={quoted}")

    assert TOKEN not in scrubbed
    assert redact(TOKEN) in scrubbed


def test_scrubbing_twice_changes_nothing_more() -> None:
    once = scrub(f"webhook/{TOKEN}")

    assert scrub(once, TOKEN) == once == f"webhook/{redact(TOKEN)}"


def test_a_token_named_is_redacted_wherever_it_appears() -> None:
    assert scrub(f"callback {TOKEN} failed", TOKEN) == f"callback {redact(TOKEN)} failed"


def test_the_prefix_is_too_short_to_call_the_webhook() -> None:
    assert redact(TOKEN) == "Dpm1…"
    assert redact("abcdefgh") == "ab…"
