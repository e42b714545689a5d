"""The Failures page's window and scope, in the URL like the job list's filters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django import forms

from dashboard.jobs.forms import JobScopeForm
from jobs.selectors import JobFilters


@dataclass(frozen=True)
class Window:
    code: str  # as in the URL: ?window=24h
    length: timedelta
    label: str  # "the last 24 hours"
    link: str  # "24 hours"


WINDOWS = (
    Window("1h", timedelta(hours=1), "the last hour", "Last hour"),
    Window("24h", timedelta(hours=24), "the last 24 hours", "24 hours"),
    Window("7d", timedelta(days=7), "the last 7 days", "7 days"),
)
DEFAULT_WINDOW = "24h"
_BY_CODE = {window.code: window for window in WINDOWS}


class FailuresForm(JobScopeForm):
    """A window (24 hours unless the URL says otherwise) and the job list's provider and
    account filters; `filters` holds only the latter."""

    field_order = ["window", "provider", "account"]

    window = forms.ChoiceField(
        required=False,
        choices=[(window.code, window.link) for window in WINDOWS],
        error_messages={
            "invalid_choice": "“%(value)s” is not a window: choose the last hour, 24 hours "
            "or 7 days."
        },
    )

    @property
    def chosen_window(self) -> Window:
        """The window asked for if it is valid (whatever the other fields), else the
        default: the page's window links stay right beside another field's error."""
        self.is_valid()  # cleans every field once
        return _BY_CODE[self.cleaned_data.get("window") or DEFAULT_WINDOW]

    @property
    def filters(self) -> JobFilters:
        """The provider and account filters, for jobs.selectors (none while invalid)."""
        scope = super().filters
        return {"provider": scope.get("provider", ""), "account": scope.get("account")}
