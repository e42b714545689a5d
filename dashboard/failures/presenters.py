"""What the Failures page shows: its window, when it was computed, and each group with
the job page's explanation and a link to the job list showing the jobs it counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property

from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.text import Truncator

from dashboard.failures.forms import WINDOWS, Window
from dashboard.jobs.forms import SECONDS
from dashboard.jobs.presenters import ListHealth, explain, list_health
from jobs import selectors
from jobs.models import Account
from jobs.providers import PROVIDERS
from jobs.providers.base import Explanation, State

MESSAGE_CHARS = 400


def list_time(moment: datetime) -> str:
    """`moment` as the job list's finished filters read and show it."""
    return timezone.localtime(moment).strftime(SECONDS)


@dataclass
class FailureRow:
    group: selectors.FailureGroup
    list_url: str

    @property
    def provider_label(self) -> str:
        return PROVIDERS.get(self.group.provider, (self.group.provider, ""))[0]

    @cached_property
    def explanation(self) -> Explanation | None:
        """The job page's explanation of the group's example (None without a code); for
        the few codes a provider explains by their message, the example's message decides."""
        return explain(self.group.example) if self.group.example else None

    @property
    def message(self) -> str:
        """The example's message, shortened visibly past MESSAGE_CHARS (in full on its job
        page, linked beside it)."""
        message = self.group.example.failure_message if self.group.example else ""
        return Truncator(message).chars(MESSAGE_CHARS)


@dataclass
class FailuresPage:
    """The failed jobs in `window` up to `end` (the next whole second after `computed_at`,
    so the job list's to-the-second filters can name the same window), grouped."""

    window: Window
    scope: selectors.JobFilters
    computed_at: datetime

    @property
    def end(self) -> datetime:
        return self.computed_at.replace(microsecond=0) + timedelta(seconds=1)

    @property
    def start(self) -> datetime:
        return self.end - self.window.length

    @property
    def filters(self) -> selectors.JobFilters:
        return {**self.scope, "finished_from": self.start, "finished_to": self.end}

    @cached_property
    def rows(self) -> list[FailureRow]:
        return [
            FailureRow(group, self.list_url(group))
            for group in selectors.failure_groups(self.filters)
        ]

    @property
    def total(self) -> int:
        return sum(row.group.count for row in self.rows)

    def list_url(self, group: selectors.FailureGroup) -> str:
        """The job list filtered to exactly the jobs `group` counts."""
        account = self.scope.get("account")
        params = {
            "state": State.FAILED.value,
            "provider": group.provider,
            "account": str(account.code) if account else "",
            "failure_code": group.failure_code or selectors.NO_FAILURE_CODE,
            "finished_from": list_time(self.start),
            "finished_to": list_time(self.end),
        }
        return reverse("job-list") + "?" + urlencode({k: v for k, v in params.items() if v})

    @property
    def scope_label(self) -> str:
        """The provider and account filters in words ("" without any)."""
        provider, account = self.scope.get("provider"), self.scope.get("account")
        parts = [PROVIDERS[provider][0] if provider in PROVIDERS else ""]
        parts.append(f"the account {account.name}" if account else "")
        return " · ".join(part for part in parts if part)

    @cached_property
    def health(self) -> ListHealth:
        """Accounts in scope whose checks fail: their failures may not all be known yet."""
        accounts: QuerySet[Account] = Account.objects.all()
        return list_health(selectors.account_filter(accounts, self.scope))


def window_links(chosen: Window, params: dict[str, str]) -> list[dict[str, object]]:
    """One link per window, keeping the other parameters; `chosen` marked."""
    return [
        {
            "label": window.link,
            "url": "?" + urlencode({**params, "window": window.code}),
            "selected": window == chosen,
        }
        for window in WINDOWS
    ]
