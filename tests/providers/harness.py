"""What the per-provider tests do to an adapter again and again: fetch one job and insist
on a status, or fetch and insist on a ProviderError."""

from __future__ import annotations

import pytest

from jobs.providers.base import JobStatus, Provider, ProviderError


def fetch_one(adapter: Provider, external_id: str) -> JobStatus:
    """The status of one job, fetched over the wire: the answer holds that job alone,
    and a status (not an error); anything else fails the test."""
    answer = adapter.fetch([external_id])
    assert list(answer) == [external_id], answer
    result = answer[external_id]
    assert isinstance(result, JobStatus), result
    return result


def fetch_error(adapter: Provider, external_id: str) -> ProviderError:
    """The ProviderError that fetching `external_id` raises (the test fails if none)."""
    with pytest.raises(ProviderError) as caught:
        adapter.fetch([external_id])
    return caught.value
