from __future__ import annotations

import contextlib
import io
import os
import signal
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


def _get_once_up(url: str) -> requests.Response:
    """GET a URL served by a child process that is still starting (up to ~10 s)."""
    for _ in range(99):
        try:
            return requests.get(url, timeout=1)
        except requests.ConnectionError:
            time.sleep(0.1)
    return requests.get(url, timeout=1)


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
        health = _get_once_up(f"http://127.0.0.1:{port}/_sim/health")
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


@pytest.mark.django_db
def test_demo_points_existing_demo_accounts_at_the_simulator_it_is_given():
    call_command("demo", stdout=io.StringIO())
    assert set(Account.objects.values_list("endpoint", flat=True)) == {"http://127.0.0.1:8001"}
    jobs = Job.objects.count()

    call_command("demo", simulator_url="http://127.0.0.1:8101/", stdout=io.StringIO())
    assert set(Account.objects.values_list("endpoint", flat=True)) == {"http://127.0.0.1:8101"}
    assert Job.objects.count() == jobs  # the same world, not a second one

    call_command("demo", stdout=io.StringIO())  # no URL given: left where it is
    assert set(Account.objects.values_list("endpoint", flat=True)) == {"http://127.0.0.1:8101"}

    # An admin points one account elsewhere (to try an outage); run's keep-alive top-ups
    # pass the URL too, and must not undo the edit.
    Account.objects.filter(name="demo-huawei-metastudio").update(endpoint="http://127.0.0.1:9")
    call_command("demo", keep_active=3, simulator_url="http://127.0.0.1:8101", stdout=io.StringIO())
    assert Account.objects.get(name="demo-huawei-metastudio").endpoint == "http://127.0.0.1:9"


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


@pytest.mark.django_db(transaction=True)
def test_run_serves_the_demo_world_on_its_own_simulator_port_and_stops_on_sigterm(child_env):
    from tests.test_shutdown import _group_alive

    call_command("demo", stdout=io.StringIO())  # built once for the default port
    port, simulator_port = _free_port(), _free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run", "--port", str(port)]
        + ["--simulator-port", str(simulator_port)],
        env=child_env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wanted = {f"http://127.0.0.1:{simulator_port}"}
    try:
        deadline = time.monotonic() + 60
        while set(Account.objects.values_list("endpoint", flat=True)) != wanted:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.1)
        page = _get_once_up(f"http://127.0.0.1:{port}/login/")
        assert page.status_code == 200
        # The accounts' endpoint is this instance's simulator, and it answers.
        health = requests.get(f"http://127.0.0.1:{simulator_port}/_sim/health", timeout=2)
        assert health.json()["ok"] is True
        # Notifications on: the simulator pushes to a receiver per demo account and keeps
        # VOD's reliable events, which its account pulls.
        control = requests.get(f"http://127.0.0.1:{simulator_port}/_sim/notify", timeout=2).json()
        pushed = {target["provider"] for target in control["targets"]}
        assert pushed == {"tencent_ivh", "tencent_ci", "huawei_metastudio", "aliyun_ice"}
        assert all(f"127.0.0.1:{port}/hooks/" in t["url"] for t in control["targets"])
        assert control["vod_pull"]["every_tenant"]
        assert Account.objects.get(provider="tencent_vod").options.get("events") == "pull"
        assert not Account.objects.filter(hook_secret_hash="").exclude(provider="tencent_vod")
        children = _children(process.pid)
        assert len(children) == 2  # the cluster and the web server

        process.send_signal(signal.SIGTERM)
        process.wait(20)
        for _ in range(30):
            if not any(_group_alive(child) for child in children):
                break
            time.sleep(0.1)
        assert not any(_group_alive(child) for child in children)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
