"""Build the demo world: a demo admin, one account per provider on the simulator, and
jobs that move on their own. Safe to run again: nothing is duplicated, and a fresh batch
of jobs is added only when every earlier demo job has finished."""

from __future__ import annotations

import random
import secrets
import time
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from jobs.models import Account
from jobs.roles import OPERATORS, VIEWERS
from jobs.services import account_create, job_track
from jobs.simulator.core import Simulator

DEFAULT_SIMULATOR_URL = "http://127.0.0.1:8001"
DEMO_USERS = (("demo", True, None), ("operator", False, OPERATORS), ("viewer", False, VIEWERS))


def demo_external_id(now: float, rng: random.Random, outcomes: tuple[str, ...]) -> str:
    """A task ID the simulator can answer for without shared state (see simulator/core.py)."""
    created = int(now - rng.uniform(0, 40))
    queue = rng.choice((0, 8, 20, 45, 90))
    run = rng.choice((30, 60, 120, 240))
    outcome = rng.choices(outcomes, weights=[7, 2, 1][: len(outcomes)])[0]
    return f"sim-{created}-{queue}-{run}-{outcome}-{secrets.token_hex(3)}"


class Command(BaseCommand):
    help = "Create (or top up) the demo world that `make run` shows."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--simulator-url",
            default="",
            help=f"the simulator the demo accounts poll (default {DEFAULT_SIMULATOR_URL}); "
            "given, existing demo accounts are pointed at it too",
        )
        parser.add_argument("--jobs-per-account", type=int, default=8)
        parser.add_argument(
            "--keep-active",
            type=int,
            default=0,
            metavar="N",
            help="add jobs to any demo account with fewer than N active ones",
        )

    def handle(self, *args: Any, **opts: Any) -> None:
        users = get_user_model()
        for username, is_admin, group in DEMO_USERS:
            if users.objects.filter(username=username).exists():
                continue
            user = users(username=username, is_staff=is_admin, is_superuser=is_admin)
            user.set_password(username)  # demo only: the README prints these logins
            user.save()
            if group:
                user.groups.add(Group.objects.get(name=group))

        simulator_url = opts["simulator_url"].rstrip("/")
        rng = random.Random()
        now = time.time()
        for code, simulated in Simulator().providers.items():
            name = f"demo-{code.replace('_', '-')}"
            account = Account.objects.filter(name=name).first()
            if account is None:
                account = account_create(
                    name=name,
                    provider=code,
                    credentials=simulated.demo_credentials,
                    options=simulated.demo_options,
                    region=simulated.demo_region,
                    endpoint=simulator_url or DEFAULT_SIMULATOR_URL,
                )
            elif simulator_url and not opts["keep_active"] and account.endpoint != simulator_url:
                # `run --simulator-port`: a second instance must poll its own simulator,
                # not the one the world was first built for. Only when the world is built:
                # the keep-alive top-ups must not undo an admin's later edit of an account.
                Account.objects.filter(pk=account.pk).update(endpoint=simulator_url)
            active = account.jobs.active().count()
            if opts["keep_active"]:
                wanted = max(0, opts["keep_active"] - active)
            else:
                wanted = 0 if active else opts["jobs_per_account"]
            outcomes = ("ok", "fail", "cancel") if simulated.can_cancel else ("ok", "fail")
            ids = [demo_external_id(now, rng, outcomes) for _ in range(wanted)]
            job_track(account=account, external_ids=ids)
        self.stdout.write(
            "demo world ready: log in as demo / demo (admin), operator / operator, viewer / viewer"
        )
