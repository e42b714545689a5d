from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time

import pytest
import requests
from django.contrib.auth import get_user_model
from django.core.management import call_command

from jobs.models import Account, Job
from jobs.providers import PROVIDERS


@pytest.mark.django_db
def test_demo_world_is_built_once_and_topped_up_only_when_finished():
    call_command("demo", stdout=io.StringIO())
    assert Account.objects.count() == len(PROVIDERS)
    first = Job.objects.count()
    assert first == 8 * len(PROVIDERS)
    assert get_user_model().objects.get(username="demo").is_superuser

    call_command("demo", stdout=io.StringIO())  # everything still active: nothing new
    assert (Account.objects.count(), Job.objects.count()) == (len(PROVIDERS), first)

    Job.objects.update(state="succeeded")
    call_command("demo", stdout=io.StringIO())  # all done: a fresh batch, same accounts
    assert (Account.objects.count(), Job.objects.count()) == (len(PROVIDERS), 2 * first)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_simulate_command_serves_the_fake_clouds():
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "simulate",
            "--port",
            str(port),
            "--latency",
            "0.01",
            "--rate-limit",
            "tencent_vod=5",
        ],
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "dashboard.settings_test"},
        stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                health = requests.get(f"http://127.0.0.1:{port}/_sim/health", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        assert health.json()["ok"] is True
    finally:
        process.terminate()
        process.wait(10)


@pytest.mark.django_db
def test_demo_keeps_a_few_jobs_active_per_account():
    call_command("demo", stdout=io.StringIO())
    Job.objects.update(state="succeeded")
    call_command("demo", keep_active=3, stdout=io.StringIO())
    for account in Account.objects.all():
        assert account.jobs.active().count() == 3
    call_command("demo", keep_active=3, stdout=io.StringIO())
    assert Job.objects.exclude(state="succeeded").count() == 3 * len(PROVIDERS)
