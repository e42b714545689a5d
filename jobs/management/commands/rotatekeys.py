from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from jobs.crypto import EncryptionError
from jobs.models import Account, AlertRule


class Command(BaseCommand):
    help = (
        "Re-encrypt every account's credentials and every alert rule's target and secret "
        "with the newest key in CLAPBOARD_ENCRYPTION_KEYS. Run it before removing an old key."
    )

    def handle(self, *args: Any, **opts: Any) -> None:
        rotated = 0
        for pk in Account.objects.values_list("pk", flat=True):
            try:
                with transaction.atomic():
                    # Only the credentials column is written, so a concurrent poller
                    # updating health fields on the same row loses nothing.
                    account = Account.objects.select_for_update().only("credentials").get(pk=pk)
                    Account.objects.filter(pk=pk).update(credentials=account.credentials)
            except EncryptionError as exc:
                raise CommandError(f"account #{pk}: {exc}; nothing after it was rotated") from None
            rotated += 1
        rules = 0
        for pk in AlertRule.objects.values_list("pk", flat=True):
            try:
                with transaction.atomic():
                    rule = (
                        AlertRule.objects.select_for_update().only("target", "secrets").get(pk=pk)
                    )
                    AlertRule.objects.filter(pk=pk).update(target=rule.target, secrets=rule.secrets)
            except EncryptionError as exc:
                raise CommandError(
                    f"alert rule #{pk}: {exc}; nothing after it was rotated"
                ) from None
            rules += 1
        self.stdout.write(
            f"re-encrypted {rotated} account(s) and {rules} alert rule(s) with the newest key"
        )
