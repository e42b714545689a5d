from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from jobs.models import Account
from jobs.services import job_track
from jobs.services.audit import Via


class Command(BaseCommand):
    help = "Watch provider task IDs on an account; IDs already watched are reported."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("account", help="account name")
        parser.add_argument("task_ids", nargs="+", metavar="TASK_ID")

    def handle(self, *args: Any, **opts: Any) -> None:
        try:
            account = Account.objects.get(name=opts["account"])
        except Account.DoesNotExist:
            raise CommandError(f"no account named {opts['account']!r}") from None
        for result in job_track(account=account, external_ids=opts["task_ids"], via=Via.CLI):
            suffix = f": {result.message}" if result.message else ""
            self.stdout.write(f"{result.external_id}: {result.outcome}{suffix}")
