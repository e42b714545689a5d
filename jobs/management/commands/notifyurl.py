"""Print an account's notification receiver URL, for scripted setups:

    manage.py notifyurl prod-ice            # creates the secret on first use
    manage.py notifyurl prod-ice --rotate   # replaces it (the old URL stops working)

The secret is kept only as a hash, so the URL is printed when it is created and never
again: run with --rotate to get a new one. The host is CLAPBOARD_BASE_URL, or --base.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from jobs.models import Account
from jobs.services.audit import Via
from jobs.services.notifications import hook_secret_create, hook_url


class Command(BaseCommand):
    help = "Print (creating or, with --rotate, replacing) an account's notification URL."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("account", help="account name")
        parser.add_argument("--rotate", action="store_true", help="replace the secret")
        parser.add_argument(
            "--base", default="", help="scheme://host if CLAPBOARD_BASE_URL is unset"
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        account = Account.objects.filter(name=opts["account"]).first()
        if account is None:
            raise CommandError(f"no account named {opts['account']!r}")
        base = settings.CLAPBOARD_BASE_URL or opts["base"]
        if not base:
            raise CommandError("set CLAPBOARD_BASE_URL (or pass --base https://host) first")
        if account.hook_secret_hash and not opts["rotate"]:
            raise CommandError(
                f"{account.name} has a notification URL since {account.hook_secret_at:%Y-%m-%d %H:%M} "
                "UTC; it is shown only when created: --rotate replaces it"
            )
        secret = hook_secret_create(account=account, user=None, via=Via.CLI)
        self.stdout.write(hook_url(account, secret, base=base))
        if help_text := account.adapter_class.notification_help:
            self.stderr.write(help_text)
