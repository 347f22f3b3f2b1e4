"""Results over Step Functions' 256 KiB, written to S3 (the claim-check pattern).

With ``LARGE_OUTPUT_BUCKET`` set, a COMPLETED result whose task output would not fit is written
to ``s3://<bucket>/<LARGE_OUTPUT_PREFIX><exec id>/<job id>.json`` — exactly the bytes the task
would have received inline — and the task gets ``output_s3`` in place of ``output``. The key is
the same for every delivery of a record (a redelivery rewrites the same bytes) and never holds a
token. The S3 client is made only when the switch is on: the webhook's cold start does not pay
for an option it does not use.
"""

import functools
import hashlib
import os
import re
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from runpod_callbacks import aws
from runpod_callbacks.errors import AwsUnavailable

BUCKET_VARIABLE = "LARGE_OUTPUT_BUCKET"
PREFIX_VARIABLE = "LARGE_OUTPUT_PREFIX"
DEFAULT_PREFIX = "runpod-results/"
UNSAFE_KEY_CHARACTERS = re.compile(r"[^A-Za-z0-9._-]")
MAX_KEY_PART = 200


class LargeOutputStore:
    def __init__(self, s3: Any, bucket: str, prefix: str) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._prefix = prefix

    def put(self, output_json: str, job_id: str, exec_id: str | None) -> dict[str, Any]:
        """Write RunPod's output; returns the task's ``output_s3`` pointer.

        Raises AwsUnavailable when S3 does not take it (the delivery then answers 503).
        """
        body = output_json.encode("utf-8")
        key = f"{self._prefix}{_key_part(exec_id or 'no-execution')}/{_key_part(job_id)}.json"
        try:
            self._s3.put_object(
                Bucket=self._bucket, Key=key, Body=body, ContentType="application/json"
            )
        except (ClientError, BotoCoreError) as error:
            raise AwsUnavailable(f"S3 PutObject failed: {aws.failure_reason(error)}") from error
        return {
            "bucket": self._bucket,
            "key": key,
            "uri": f"s3://{self._bucket}/{key}",
            "size_bytes": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
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


def _key_part(text: str) -> str:
    """Letters, digits, `.`, `_` and `-`; a short hash keeps apart ids that differ elsewhere."""
    safe = UNSAFE_KEY_CHARACTERS.sub("_", text)[:MAX_KEY_PART].strip(".") or "_"
    if safe == text:
        return safe
    return f"{safe}-{hashlib.sha256(text.encode('utf-8', 'surrogatepass')).hexdigest()[:12]}"
