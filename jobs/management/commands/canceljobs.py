"""Ask a provider to cancel tracked jobs, for scripts:

    manage.py canceljobs prod-ci JOB_ID [JOB_ID ...]

One line per task ID ("<id>: accepted", "<id>: refused: <reason>", ...); the exit status
is 1 if any ID was not cancelled. Accepted jobs are refreshed at once, so their stored
state is the provider's answer.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from jobs.models import Account, Job
from jobs.refresh import job_refresh_now
from jobs.services import jobs_cancel
from jobs.services.audit import Via


class Command(BaseCommand):
    help = "Cancel tracked jobs on an account (only where the provider allows it)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("account", help="account name")
        parser.add_argument("task_ids", nargs="+", metavar="TASK_ID")

    def handle(self, *args: Any, **opts: Any) -> None:
        account = Account.objects.filter(name=opts["account"]).first()
        if account is None:
            raise CommandError(f"no account named {opts['account']!r}")
        ids = list(dict.fromkeys(opts["task_ids"]))
        jobs = {
            job.external_id: job
            for job in Job.objects.select_related("account").filter(
                account=account, external_id__in=ids
            )
        }
        failed = [i for i in ids if i not in jobs]
        for external_id in failed:
            self.stdout.write(f"{external_id}: not tracked on {account.name}")
        results = jobs_cancel(
            account=account, jobs=[jobs[i] for i in ids if i in jobs], user=None, via=Via.CLI
        )
        for result in results:
            line = f"{result.job.external_id}: {result.outcome}"
            if result.accepted:
                job_refresh_now(job_id=result.job.pk)
                state = Job.objects.values_list("state", flat=True).get(pk=result.job.pk)
                line += f" (now {state})"
            else:
                failed.append(result.job.external_id)
                line += f": {result.message}"
            self.stdout.write(line)
        if failed:
            raise SystemExit(1)
