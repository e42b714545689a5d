"""Create a provider account; credentials come as a JSON object on standard input.

    echo '{"secret_id": "...", "secret_key": "..."}' | manage.py addaccount prod-vod \
        --provider tencent_vod --option sub_app_id=1500000001

Each provider's own names for its credentials are accepted too (`{"ak": ..., "sk": ...}`
for Huawei, `SecretId`/`SecretKey` for Tencent, `AccessKeyId`/`AccessKeySecret` for Alibaba).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from jobs.providers import PROVIDERS
from jobs.services import InvalidInput, account_create


def _option(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise CommandError(f"--option expects key=value, not {text!r}")
    return key.strip(), value.strip()


class Command(BaseCommand):
    help = "Create a provider account (credentials as a JSON object on stdin)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("name")
        parser.add_argument("--provider", required=True, help=", ".join(PROVIDERS))
        parser.add_argument("--endpoint", default="")
        parser.add_argument("--region", default="")
        parser.add_argument("--rate-limit", type=float, default=None)
        parser.add_argument("--option", action="append", default=[], metavar="KEY=VALUE")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["provider"] not in PROVIDERS:
            raise CommandError(
                f"unknown provider {opts['provider']!r} (one of: {', '.join(PROVIDERS)})"
            )
        # Secrets on stdin stay out of shell history and `ps`.
        raw = sys.stdin.read()
        try:
            credentials = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise CommandError(
                f"credentials on stdin are not valid JSON (line {exc.lineno}, column {exc.colno})"
            ) from None
        if not isinstance(credentials, dict):
            raise CommandError("credentials on stdin must be a JSON object")
        options = dict(_option(text) for text in opts["option"])
        try:
            account = account_create(
                name=opts["name"],
                provider=opts["provider"],
                credentials=credentials,
                options=options,
                region=opts["region"],
                endpoint=opts["endpoint"],
                rate_limit=opts["rate_limit"],
            )
        except InvalidInput as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"created account {account.name} ({account.provider}, {account.masked_id})"
        )
