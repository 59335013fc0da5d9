"""Pure rules of billing's bulk kinds."""

from __future__ import annotations

from datetime import datetime

from billing.domain.usage import SAMPLE_BUCKET, bucket_of


def reset_counts_from(at: datetime) -> datetime:
    """Where a cycle's usage counts from after its counters are reset at `at`: the next 15-minute bucket edge
    (`at` itself when it is on one). Counters are kept per bucket, so the bucket holding the reset is forgiven
    whole rather than split."""
    start = bucket_of(at)
    return start if start == at else start + SAMPLE_BUCKET
