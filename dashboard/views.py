"""The operator pages. Views stay thin: access check, query, template."""

from __future__ import annotations

from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from jobs.models import Job

PAGE_SIZE = 50


def _job_for_user(request: HttpRequest, code: str) -> Job:
    """The job behind `code` if this user may see it; 404 otherwise."""
    return get_object_or_404(Job.objects.select_related("account"), code=code)


@permission_required("jobs.view_job", raise_exception=True)
def job_list(request: HttpRequest) -> HttpResponse:
    jobs = Job.objects.select_related("account").order_by("-tracked_at", "-id")[:PAGE_SIZE]
    return render(request, "jobs/list.html", {"jobs": jobs})


@permission_required("jobs.view_job", raise_exception=True)
def job_detail(request: HttpRequest, code: str) -> HttpResponse:
    job = _job_for_user(request, code)
    return render(request, "jobs/detail.html", {"job": job})
