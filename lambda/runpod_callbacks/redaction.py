"""What never reaches a log line whole: the callback token (the webhook's bearer secret).

The task token and the RunPod API key never reach a log line at all: nothing logs them, and
RunPod's texts pass through runpod_api, which replaces the key before anyone sees them.
"""

import re

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
