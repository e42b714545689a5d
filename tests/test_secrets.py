"""Planted secrets never leave the encrypted column: not in pages, logs, errors or tasks."""

from __future__ import annotations

import logging
import uuid

import pytest
from django.test import Client
from django.urls import reverse
from django_q.models import OrmQ, Schedule, Task

from jobs.models import Account, Job, JobEvent
from jobs.providers import PROVIDERS, provider_class
from jobs.refresh import refresh_once
from jobs.services import account_create
from jobs.services.sharing import share_create

pytestmark = pytest.mark.django_db(transaction=True)


def planted_credentials(code: str, sim) -> dict[str, str]:
    """The simulator's demo credentials with every secret replaced by a distinctive value."""
    credentials = dict(sim.demo_credentials)
    for field in provider_class(code).credential_fields:
        if field.secret:
            credentials[field.name] = f"PLANTED{code.upper()}{uuid.uuid4().hex}"
    return credentials


def _dump(queryset, *, exclude: tuple[str, ...] = ()) -> str:
    names = [f.attname for f in queryset.model._meta.concrete_fields if f.name not in exclude]
    return "\n".join(repr(row) for row in queryset.values(*names))


def test_no_secret_appears_anywhere(simulator, staff_admin, outsider, caplog):
    caplog.set_level(logging.DEBUG)
    secrets, accounts = [], {}
    for code, sim in simulator.providers.items():
        credentials = planted_credentials(code, sim)
        simulator.add_tenant(code, credentials, options=sim.demo_options)
        secrets += [credentials[f.name] for f in provider_class(code).credential_fields if f.secret]
        # A second account whose secret is wrong: signature failures must not echo it.
        wrong = {
            **credentials,
            **{
                f.name: f"WRONG{c}"
                for f in provider_class(code).credential_fields
                if f.secret
                for c in [uuid.uuid4().hex]
            },
        }
        secrets += [wrong[f.name] for f in provider_class(code).credential_fields if f.secret]
        accounts[code], _ = (
            account_create(
                name=f"{label}-{code}",
                provider=code,
                credentials=values,
                options=sim.demo_options,
                region=sim.demo_region,
                endpoint=simulator.url,
            )
            for label, values in (("planted", credentials), ("wrong", wrong))
        )
        for phase in ("running", "succeeded", "failed"):
            simulator.add_job(code, f"{code}-{phase}", pinned=phase)
            for account in Account.objects.filter(provider=code):
                Job.objects.create(account=account, external_id=f"{code}-{phase}")
        Job.objects.create(account=accounts[code], external_id=f"{code}-missing")
    simulator.inject("http_500", "tencent_vod", count=1)
    simulator.inject("throttle", "huawei_metastudio", count=1)
    refresh_once()

    staff = Client()
    staff.force_login(staff_admin)
    token = staff.get(reverse("job-list")) and staff.cookies["csrftoken"].value
    some_job = Job.objects.filter(account=accounts["tencent_ivh"]).first()
    staff.post(reverse("job-refresh", args=[some_job.code]), HTTP_X_CSRFTOKEN=token)
    staff.post(
        reverse("track"),
        {"account": str(accounts["tencent_ci"].code), "task_ids": "tencent_ci-running nope"},
        HTTP_X_CSRFTOKEN=token,
    )
    _, share_token = share_create(job=some_job, user=staff_admin)

    urls = [
        reverse("job-list"),
        reverse("job-list") + "?state=failed",
        reverse("account-health"),
        reverse("track"),
        "/submit/voice-separation/",
        "/admin/",
        "/admin/jobs/account/",
        "/admin/jobs/job/",
        "/admin/jobs/jobevent/",
        "/admin/jobs/sharelink/",
        f"/jobs/{uuid.uuid4()}/",
        "/no-such-page/",
    ]
    urls += [reverse("job-detail", args=[job.code]) for job in Job.objects.all()]
    urls += [f"/admin/jobs/account/{a.pk}/change/" for a in Account.objects.all()]
    urls += [f"/admin/jobs/job/{j.pk}/change/" for j in Job.objects.all()[:10]]
    pages = [staff.get(url).content.decode() for url in urls]
    pages.append(Client().get(reverse("shared-job", args=[share_token])).content.decode())
    outsider_client = Client()
    outsider_client.force_login(outsider)
    pages.append(outsider_client.get(reverse("job-list")).content.decode())

    stored = "\n".join(
        [
            _dump(Job.objects.all()),
            _dump(JobEvent.objects.all()),
            _dump(Account.objects.all(), exclude=("credentials",)),
            _dump(Task.objects.all()),
            _dump(OrmQ.objects.all()),
            _dump(Schedule.objects.all()),
        ]
    )
    logs = caplog.text
    assert Task.objects.exists()  # the refresh-now task ran and was recorded
    for task in Task.objects.all():
        assert all(isinstance(arg, int) for arg in task.args), task.args  # ids only
    assert Account.objects.exclude(last_error="").exists()  # errors were recorded...
    for secret in secrets:
        for where, text in (("page", "\n".join(pages)), ("database", stored), ("logs", logs)):
            assert secret not in text, f"a planted secret appeared in the {where}"
    fields = [f for code in PROVIDERS for f in provider_class(code).credential_fields if f.secret]
    assert len(secrets) == 2 * len(fields) and len(fields) > len(PROVIDERS)
