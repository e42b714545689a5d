"""`make run`: the dashboard, a django-q2 cluster and the simulator in one foreground
process. Ctrl-C stops all three."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from jobs.simulator.core import Simulator


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
        manage = [sys.executable, "manage.py"]
        children = [
            subprocess.Popen([*manage, "qcluster"]),
            subprocess.Popen([*manage, "runserver", f"127.0.0.1:{opts['port']}", "--noreload"]),
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
            deadline = time.monotonic() + 15
            for child in children:
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    child.kill()
            simulator.stop()
        self.stdout.write("stopped")
