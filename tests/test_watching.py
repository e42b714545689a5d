"""Submitting a job (jobs/services/submitting.py) when the provider's answer cannot be kept."""

from __future__ import annotations

import pytest

from jobs.models import Job
from jobs.providers.base import ProviderError
from jobs.providers.tencent_ci import TencentCi
from jobs.services import job_submit

pytestmark = pytest.mark.django_db


def test_a_submitted_task_id_clapboard_cannot_store_is_a_provider_error(
    simulator, accounts, monkeypatch
):
    # The job column holds 255 characters; a longer ID is reported, not stored cut.
    monkeypatch.setattr(TencentCi, "submit", lambda self, **params: "x" * 300)
    with pytest.raises(ProviderError, match="cannot be tracked: ID is too long"):
        job_submit(account=accounts["tencent_ci"], params={})
    assert not Job.objects.exists()
