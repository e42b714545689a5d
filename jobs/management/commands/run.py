"""`make run`: the dashboard, a django-q2 cluster and the simulator in one foreground
process. Ctrl-C stops all three."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from jobs.simulator.core import Simulator

log = logging.getLogger(__name__)
# Within what supervisors wait before SIGKILL (systemd 90 s, Kubernetes 30 s).
STOP_SECONDS = 18


def _keep_demo_alive(stop: threading.Event, simulator_url: str) -> None:
    while not stop.wait(45):
        try:
            call_command("demo", keep_active=3, simulator_url=simulator_url, stdout=io.StringIO())
        except Exception:  # the demo must never take the dashboard down
            log.exception("could not top up the demo world")
        finally:
            connection.close()


def _notifications_on(simulator: Simulator, port: int) -> None:
    """The demo world learns by notification as well as by polling: each demo account
    gets a receiver (a new URL at each start, since only a hash of the old one is kept)
    and the simulator pushes to it; VOD's account pulls its reliable events instead."""
    from jobs.models import Account
    from jobs.services.audit import Via
    from jobs.services.notifications import hook_secret_create, hook_url

    for account in Account.objects.filter(endpoint=simulator.url):
        if account.provider == "tencent_vod":
            options = {**account.options, "events": "pull"}
            Account.objects.filter(pk=account.pk).update(options=options)
            simulator.vod_events()
            continue
        secret = hook_secret_create(account=account, user=None, via=Via.CLI)
        url = hook_url(account, secret, base=f"http://127.0.0.1:{port}")
        simulator.notify_to(account.provider, url)


def _interrupt(*_: Any) -> None:
    # SIGTERM (e.g. from a supervisor) stops us the same way Ctrl-C does.
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Serve the dashboard with a django-q2 cluster and the provider simulator."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--simulator-port", type=int, default=8001)

    def handle(self, *args: Any, **opts: Any) -> None:
        simulator = Simulator()
        simulator.add_demo_tenants()
        try:
            simulator.start(port=opts["simulator_port"])
        except OSError as exc:
            raise CommandError(
                f"cannot start the simulator on port {opts['simulator_port']}: {exc.strerror}"
            ) from None
        # The demo world polls the simulator this instance serves, whatever port that is.
        call_command("demo", simulator_url=simulator.url, stdout=io.StringIO())
        _notifications_on(simulator, opts["port"])
        connection.close()
        # New demo jobs now and then, so the demo world keeps moving.
        stop = threading.Event()
        threading.Thread(target=_keep_demo_alive, args=(stop, simulator.url), daemon=True).start()
        manage = [sys.executable, "manage.py"]
        # Each child leads its own process group, so a child that outstays the stop can
        # be killed with everything it forked (the cluster's sentinel and workers).
        children = [
            subprocess.Popen([*manage, "qcluster"], start_new_session=True),
            subprocess.Popen(
                [*manage, "runserver", f"127.0.0.1:{opts['port']}", "--noreload"],
                start_new_session=True,
            ),
        ]
        self.stdout.write(
            f"\n  Clapboard: http://127.0.0.1:{opts['port']}/   (log in as demo / demo)\n"
            f"  Simulator: {simulator.url}   Ctrl-C stops everything.\n"
        )
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGINT)
            deadline = time.monotonic() + STOP_SECONDS
            for child in children:
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    log.warning("pid %s did not stop in time; killing its group", child.pid)
                with contextlib.suppress(ProcessLookupError):
                    # Also whatever it left behind: a killed or stopped parent's
                    # orphans would otherwise keep the supervisor waiting.
                    os.killpg(child.pid, signal.SIGKILL)
                child.wait()
            stop.set()
            simulator.stop()
        self.stdout.write("stopped")
