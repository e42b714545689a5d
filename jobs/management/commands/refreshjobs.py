from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from jobs.models import Account
from jobs.refresh import LOOP_SECONDS, RefreshLoop


class Command(BaseCommand):
    help = (
        "Run the refresh engine in the foreground: with --once, poll every due job once "
        "and exit (for cron); without, keep polling until interrupted."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--account", action="append", dest="accounts", metavar="NAME")
        parser.add_argument("--once", action="store_true")

    def handle(self, *args: Any, **opts: Any) -> None:
        names = opts["accounts"]
        if names:
            unknown = set(names) - set(
                Account.objects.filter(name__in=names).values_list("name", flat=True)
            )
            if unknown:
                raise CommandError(f"no account named {sorted(unknown)[0]!r}")
        try:
            while True:
                if opts["once"]:
                    stats = RefreshLoop(once=True, seconds=3600, account_names=names).run()
                else:
                    stats = RefreshLoop(seconds=LOOP_SECONDS, account_names=names).run()
                self.stdout.write(
                    f"polled {stats['jobs']} job(s) with {stats['requests']} request(s): "
                    f"{stats['changed']} changed, {stats['errors']} failed request(s)"
                )
                if opts["once"]:
                    return
        except KeyboardInterrupt:
            return
