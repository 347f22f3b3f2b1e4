"""Results over Step Functions' 256 KiB, written to S3 (the claim-check pattern).

With ``LARGE_OUTPUT_BUCKET`` set, a COMPLETED result whose task output would not fit is written
to ``s3://<bucket>/<LARGE_OUTPUT_PREFIX><exec id>/<job id>/<sha256>.json`` — exactly the bytes
the task would have received inline — and the task gets ``output_s3`` in place of ``output``.
The key names the content, so an object a task may point to never changes: a redelivery of the
same bytes writes the same object again, other bytes (RunPod's /status spaces its JSON apart
from its webhook) go to another key. Keys never hold a token. The S3 client is made only when the
switch is on: the webhook's cold start does not pay for an option it does not use.
"""

import functools
import hashlib
import os
import re
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from runpod_callbacks import aws
from runpod_callbacks.errors import AwsUnavailable, OutputNotStored

BUCKET_VARIABLE = "LARGE_OUTPUT_BUCKET"
PREFIX_VARIABLE = "LARGE_OUTPUT_PREFIX"
DEFAULT_PREFIX = "runpod-results/"
UNSAFE_KEY_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]")
MAX_KEY_PART = 200
# S3's refusals that every retry meets until an operator changes the bucket, its policy, the
# role or the key: waiting does not help, so the task fails with a typed error at once.
PERMANENT_REFUSALS = frozenset(
    {
        "AccessDenied",
        "AllAccessDisabled",
        "NoSuchBucket",
        "InvalidBucketName",
        "InvalidBucketState",
        "PermanentRedirect",
        "AuthorizationHeaderMalformed",
        "InvalidArgument",
        "InvalidRequest",
    }
)
TRANSIENT_KMS_ERRORS = frozenset(
    {"KMS.ThrottlingException", "KMS.KMSInternalException", "KMS.DependencyTimeoutException"}
)


class LargeOutputStore:
    def __init__(self, s3: Any, bucket: str, prefix: str) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._prefix = prefix

    def put(self, output_json: str, job_id: str, exec_id: str | None) -> dict[str, Any]:
        """Write RunPod's output; returns the task's ``output_s3`` pointer.

        Raises OutputNotStored when S3 refuses it for good, AwsUnavailable when it may take it
        later (the delivery then answers 503).
        """
        body = output_json.encode("utf-8")
        sha256 = hashlib.sha256(body).hexdigest()
        folder = f"{_key_part(exec_id or 'no-execution')}/{_key_part(job_id)}"
        key = f"{self._prefix}{folder}/{sha256}.json"
        try:
            self._s3.put_object(
                Bucket=self._bucket, Key=key, Body=body, ContentType="application/json"
            )
        except (ClientError, BotoCoreError) as error:
            reason = aws.failure_reason(error)
            if _is_permanent(reason):
                raise OutputNotStored(
                    f"S3 refused to store the result in bucket {self._bucket} ({reason}): check"
                    " the bucket exists, the function's role may s3:PutObject under the key"
                    " prefix, and the bucket's KMS key is enabled and usable by the role"
                ) from error
            raise AwsUnavailable(f"S3 PutObject failed: {reason}") from error
        return {
            "bucket": self._bucket,
            "key": key,
            "uri": f"s3://{self._bucket}/{key}",
            "size_bytes": len(body),
            "sha256": sha256,
        }


def large_output_store() -> LargeOutputStore | None:
    """The store the environment switches on, or None (the default: results stay inline)."""
    bucket = os.environ.get(BUCKET_VARIABLE)
    if not bucket:
        return None
    return _store(bucket, os.environ.get(PREFIX_VARIABLE, DEFAULT_PREFIX))


@functools.cache
def _store(bucket: str, prefix: str) -> LargeOutputStore:
    return LargeOutputStore(aws.client("s3"), bucket, prefix)


def _is_permanent(reason: str) -> bool:
    if reason.startswith("KMS."):
        return reason not in TRANSIENT_KMS_ERRORS
    return reason in PERMANENT_REFUSALS


def _key_part(text: str) -> str:
    """Letters, digits, `.`, `_` and `-`; a short hash keeps apart ids that differ elsewhere."""
    safe = UNSAFE_KEY_CHARACTERS.sub("_", text)[:MAX_KEY_PART].strip(".") or "_"
    if safe == text:
        return safe
    return f"{safe}-{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"
