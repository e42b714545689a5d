"""Run the provider simulator on its own (benchmarks, a shared demo, manual poking)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from jobs.simulator.core import Simulator


def _rate(text: str) -> tuple[str, float]:
    code, sep, value = text.partition("=")
    try:
        return code, float(value) if sep else 0.0
    except ValueError:
        raise CommandError(f"--rate-limit expects CODE=REQUESTS_PER_SECOND, not {text!r}") from None


class Command(BaseCommand):
    help = "Serve the five fake clouds on one port, with the demo tenants."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--port", type=int, default=8001)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--latency", type=float, default=0.0, help="seconds per request")
        parser.add_argument("--rate-limit", action="append", default=[], metavar="CODE=N")

    def handle(self, *args: Any, **opts: Any) -> None:
        rates = dict(_rate(text) for text in opts["rate_limit"])
        simulator = Simulator(latency=opts["latency"])
        unknown = set(rates) - set(simulator.providers)
        if unknown:
            raise CommandError(f"unknown provider {sorted(unknown)[0]!r}")
        simulator.add_demo_tenants(rates)
        self.stdout.write(f"simulator on http://{opts['host']}:{opts['port']} (Ctrl-C stops)")
        try:
            simulator.serve_forever(opts["host"], opts["port"])
        except OSError as exc:
            raise CommandError(f"cannot listen on port {opts['port']}: {exc.strerror}") from None
        except KeyboardInterrupt:
            pass
