"""Why a claim was refused, read from the record as it was (one conditional write tells)."""

from decimal import Decimal
from typing import Any

import pytest

from runpod_callbacks.callback_records import Finished, claim_refusal
from runpod_callbacks.errors import (
    CorruptRecord,
    DeliveryInFlight,
    JobIdMismatch,
    RecordNotPending,
    TaskExpired,
    UnknownCallback,
)

NOW = 1_000_000
PENDING = {"callback_token": "t", "task_token": "T", "status": "PENDING", "job_id": "job-1"}


@pytest.mark.parametrize(
    ("record", "refusal"),
    [
        ({}, UnknownCallback),
        ({**PENDING, "job_id": "job-2"}, JobIdMismatch),
        ({**PENDING, "job_id": Decimal(7)}, JobIdMismatch),
        ({**PENDING, "status": "COMPLETED", "job_id": "job-2"}, JobIdMismatch),
        ({**PENDING, "status": "COMPLETED"}, Finished),
        ({**PENDING, "status": "FAILED"}, Finished),
        ({**PENDING, "status": "EXPIRED"}, TaskExpired),
        ({**PENDING, "status": "ARCHIVED"}, RecordNotPending),
        ({k: v for k, v in PENDING.items() if k != "task_token"}, CorruptRecord),
        ({**PENDING, "task_token": Decimal(1)}, CorruptRecord),
        ({**PENDING, "lease_expires_at": Decimal(NOW + 1)}, DeliveryInFlight),
        ({**PENDING, "lease_expires_at": "soon"}, CorruptRecord),
    ],
)
def test_refusal_names_the_failed_precondition(record: dict[str, Any], refusal: type) -> None:
    assert isinstance(claim_refusal(record, "job-1", NOW), refusal)
