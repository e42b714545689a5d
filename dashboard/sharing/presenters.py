"""What the public share page shows of a job."""

from __future__ import annotations

from dashboard.jobs.presenters import JobDetail


class PublicJob(JobDetail):
    """The detail page's presenter minus what a link holder must not learn."""

    public = True
    provider_name = "the provider"  # the label would name the provider
