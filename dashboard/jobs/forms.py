"""The job pages' forms: the list's filters and a paste of task IDs (the voice-separation
job's is dashboard.jobs.submit_form)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any, cast

from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from jobs.listing import SORT_CHOICES, WINDOWS, Sort, sort_of
from jobs.models import STATE_CHOICES, Account, Job
from jobs.providers import provider_choices
from jobs.selectors import NO_FAILURE_CODE, JobFilters, is_set, job_filter, known_kinds
from jobs.services import TRACK_MAX_IDS, parse_external_ids

ANY = [("", "Any")]
# Filter dates outside this range are refused: the day after date.max does not exist.
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(9999, 12, 30)
# Times to the second, as a datetime-local input shows and sends them (step 1 s).
SECONDS = "%Y-%m-%dT%H:%M:%S"
SECOND_INPUT = {"type": "datetime-local", "step": "1"}
FINISHED_FIELDS = ("finished_from", "finished_to")
# A filter and its "is not" twin. The page's form sends the filter with `<name>_op=not`
# beside it (a select, so it works without script); the list redirects that to the
# twin's own parameter, the one links, saved views and the API use.
NEGATED = {"state": "state_not", "provider": "provider_not"}
PER_PAGE = (50, 100, 200)
NO_STATE = "“%(value)s” is not a state: choose one from the list, or a tab."
WINDOW_CHOICES = [
    ("", "Any time"),
    ("1h", "Last hour"),
    ("24h", "Last 24 h"),
    ("7d", "Last 7 days"),
]
HOUR_CHOICES = [("", "—")] + [(str(hour), f"{hour:02d}:00") for hour in range(24)]
# Not filters: they order and size the page (a view saves them all the same).
LAYOUT_FIELDS = ("sort", "per_page")


def negated_params(data: Mapping[str, Any]) -> dict[str, str] | None:
    """`data` with each `<filter>_op=not` pair turned into the filter's twin (provider=x
    and provider_op=not: provider_not=x), `_op` parameters dropped; None when there is
    none. The last value of each parameter, as the form reads them."""
    ops = {f"{name}_op" for name in NEGATED} & set(data)
    if not ops:
        return None
    params = {key: str(data.get(key, "")) for key in data if key not in ops}
    for name, twin in NEGATED.items():
        if str(data.get(f"{name}_op", "")) == "not" and params.get(name):
            params[twin] = params.pop(name)
    return params


class JobScopeForm(forms.Form):
    """Which jobs by provider and account, as the job list filters them; the Failures
    page narrows its groups with the same fields and rules."""

    provider = forms.ChoiceField(required=False)
    account = forms.ModelChoiceField(
        required=False, queryset=Account.objects.none(), to_field_name="code", empty_label="Any"
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["provider"]).choices = ANY + provider_choices()
        account = cast("forms.ModelChoiceField[Account]", self.fields["account"])
        account.queryset = Account.objects.only("code", "name").order_by("name")

    def full_clean(self) -> None:
        super().full_clean()
        for name in self.errors:
            if name in self.fields:  # the error under the field is its description
                self.fields[name].widget.attrs["aria-describedby"] = f"{self[name].auto_id}_error"

    @property
    def filters(self) -> JobFilters:
        """The valid filters (none while the form is invalid)."""
        return cast(JobFilters, self.cleaned_data if self.is_valid() else {})

    @property
    def any_set(self) -> bool:
        """Whether the URL sets any filter, valid or not (then the page offers Clear)."""
        return any(str(self.data.get(name, "")).strip() for name in self.fields)


class JobFilterForm(JobScopeForm):
    """The job list's filters; they live in the URL so a view is bookmarkable. The
    filtering itself is jobs.selectors.job_filter, fed `filters`."""

    field_order = [
        "q",
        "state",
        "provider",
        "account",
        "kind",
        "created_from",
        "created_to",
        "failure_code",
        *FINISHED_FIELDS,
        "state_not",
        "provider_not",
        "window",
        "hour_from",
        "hour_to",
        *LAYOUT_FIELDS,
    ]

    q = forms.CharField(
        required=False,
        max_length=255,
        label="Search",
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Task ID (or part) or name"}
        ),
    )
    state = forms.ChoiceField(
        required=False, choices=ANY + STATE_CHOICES, error_messages={"invalid_choice": NO_STATE}
    )
    state_not = forms.ChoiceField(
        required=False,
        choices=ANY + STATE_CHOICES,
        label="State is not",
        error_messages={"invalid_choice": NO_STATE},
    )
    provider_not = forms.ChoiceField(required=False, label="Provider is not")
    kind = forms.CharField(required=False, max_length=100, widget=forms.Select)
    created_from = forms.DateField(
        required=False, label="Created from", widget=forms.DateInput(attrs={"type": "date"})
    )
    created_to = forms.DateField(
        required=False, label="to", widget=forms.DateInput(attrs={"type": "date"})
    )
    # Exact, as the provider sent it; the Failures page links here with its groups' codes.
    failure_code = forms.CharField(
        required=False,
        max_length=128,
        label="Failure code",
        widget=forms.TextInput(
            attrs={"placeholder": f"Exact code, {NO_FAILURE_CODE} for none", "spellcheck": "false"}
        ),
    )
    # When a finished job finished (else when it was first seen); from is included, to is
    # not, to the second, in the site's time zone (what a datetime-local input sends).
    finished_from = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(format=SECONDS, attrs=SECOND_INPUT)
    )
    finished_to = forms.DateTimeField(
        required=False, widget=forms.DateTimeInput(format=SECONDS, attrs=SECOND_INPUT)
    )

    # Created within the last hour, day or week, relative to now (jobs.listing.WINDOWS).
    window = forms.ChoiceField(required=False, choices=WINDOW_CHOICES, label="Created")
    # Hours of the day (UTC, both included); from after to wraps midnight.
    hour_from = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, choices=HOUR_CHOICES, label="Hours (UTC)"
    )
    hour_to = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, choices=HOUR_CHOICES, label="to"
    )
    # Empty is the default order; jobs without a media length or progress come last
    # when the largest come first (and first the other way).
    sort = forms.ChoiceField(required=False, choices=SORT_CHOICES, label="Order")
    # Anything but a size offered is the default size, not an error (PER_PAGE).
    per_page = forms.CharField(required=False, max_length=10)

    def __init__(self, *args: Any, known_kinds_only: bool = True, **kwargs: Any) -> None:
        """With `known_kinds_only` (the page) Kind is a choice among the kinds that exist;
        the API accepts any kind, so a script may wait for one that has no job yet."""
        if args and args[0] is not None and (negated := negated_params(args[0])) is not None:
            args = (negated, *args[1:])
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["provider_not"]).choices = ANY + provider_choices()
        assert len(WINDOWS) == len(WINDOW_CHOICES) - 1
        self.kinds = known_kinds() if known_kinds_only else None
        if self.kinds is not None:
            choices = [(kind, kind) for kind in self.kinds]
            asked = str(self.data.get("kind", ""))[:100]
            if asked and asked not in self.kinds:
                choices.append((asked, asked))  # shown with its error, not silently swapped
            cast(forms.Select, self.fields["kind"].widget).choices = ANY + choices
        for name in ("created_from", "created_to"):
            self.fields[name].widget.attrs.update(min=FIRST_DAY, max=LAST_DAY)
        zone = timezone.get_current_timezone_name()
        self.fields["finished_from"].label = f"Finished from ({zone})"
        self.fields["finished_to"].label = "to (not included)"
        for name in FINISHED_FIELDS:
            self.fields[name].widget.attrs.update(min=f"{FIRST_DAY}T00:00", max=f"{LAST_DAY}T23:59")

    def full_clean(self) -> None:
        super().full_clean()
        # A datetime-local input empties a value it cannot show (an offset, a "Z"), and the
        # next Filter would drop the filter: show what applies, in the input's own format.
        shown = {
            name: timezone.localtime(moment).strftime(SECONDS)
            for name in FINISHED_FIELDS
            if (moment := getattr(self, "cleaned_data", {}).get(name))
        }
        if shown:
            # A QueryDict's last values, as get() reads them ({**querydict} has the lists).
            self.data = {name: self.data.get(name) for name in self.data} | shown

    def clean_per_page(self) -> int | None:
        size = str(self.cleaned_data.get("per_page") or "")
        return int(size) if size in {str(n) for n in PER_PAGE} else None

    def clean_kind(self) -> str:
        kind: str = self.cleaned_data["kind"]
        if kind and self.kinds is not None and kind not in self.kinds:
            raise forms.ValidationError("No job has this kind; choose one from the list.")
        return kind

    def _clean_day(self, name: str) -> date | None:
        day: date | None = self.cleaned_data[name]
        if day is not None and not FIRST_DAY <= day <= LAST_DAY:
            raise forms.ValidationError(f"Enter a date from {FIRST_DAY} to {LAST_DAY}.")
        return day

    def clean_created_from(self) -> date | None:
        return self._clean_day("created_from")

    def clean_created_to(self) -> date | None:
        return self._clean_day("created_to")

    def _clean_moment(self, name: str) -> datetime | None:
        moment: datetime | None = self.cleaned_data[name]
        if moment is None:
            return None
        if not FIRST_DAY <= moment.date() <= LAST_DAY:
            raise forms.ValidationError(f"Enter a time from {FIRST_DAY} to {LAST_DAY}.")
        # To the second, as the input shows it; in UTC, since PostgreSQL refuses an offset
        # beyond ±15:59, which ISO 8601 (and so the API) allows ("-20:29"): a 500.
        return moment.astimezone(UTC).replace(microsecond=0)

    def clean_finished_from(self) -> datetime | None:
        return self._clean_moment("finished_from")

    def clean_finished_to(self) -> datetime | None:
        return self._clean_moment("finished_to")

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        start, end = data.get("created_from"), data.get("created_to")
        if start and end and start > end:
            self.add_error("created_to", "This day is before the “from” day.")
        since, until = data.get("finished_from"), data.get("finished_to")
        if since and until and since >= until:
            self.add_error("finished_to", "This time is not after the “from” time.")
        # Both ways is a mistake in a URL; a state tab may meet its exclusion (and shows
        # none, as its count says).
        if data.get("provider") and data.get("provider") == data.get("provider_not"):
            self.add_error(
                "provider_not", "The same provider cannot be both included and excluded."
            )
        return data

    @property
    def current_state(self) -> str:
        return self.filters.get("state", "")

    def filter(self, jobs: QuerySet[Job], *, with_state: bool = True) -> QuerySet[Job]:
        """Apply every valid filter (the state one only when `with_state`)."""
        return job_filter(jobs, self.filters, with_state=with_state)

    @property
    def active(self) -> bool:
        """Whether any filter but the state tab narrows the list (a sort or size does not)."""
        return self.is_valid() and any(
            is_set(value)
            for name, value in self.cleaned_data.items()
            if name != "state" and name not in LAYOUT_FIELDS
        )

    @property
    def order(self) -> Sort:
        """The list's order (the default while the form is invalid)."""
        return sort_of(self.filters.get("sort"))

    @property
    def shows_finished(self) -> bool:
        """Whether the page shows the finished fields: only while the URL sets them (the
        Failures page's links do), so the filter row stays one row otherwise."""
        return any(str(self.data.get(name, "")).strip() for name in FINISHED_FIELDS)


class TrackForm(forms.Form):
    """A paste of task IDs for one account; `task_ids` cleans to the list of IDs."""

    account = forms.ModelChoiceField(
        queryset=Account.objects.filter(enabled=True).order_by("name"),
        to_field_name="code",
        empty_label="Choose an account",
        error_messages={
            "required": "Choose the account the task IDs belong to.",
            "invalid_choice": "That account does not exist or is disabled; choose another.",
        },
    )
    task_ids = forms.CharField(
        label="Task IDs",
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        help_text=f"One per line, or separated by commas or spaces; at most {TRACK_MAX_IDS} "
        "at once.",
        # No length cap here: a paste far over the limit still gets its count in the
        # error (the request size itself is capped by DATA_UPLOAD_MAX_MEMORY_SIZE).
        error_messages={"required": "Paste at least one task ID."},
    )

    def clean_task_ids(self) -> list[str]:
        ids = parse_external_ids(self.cleaned_data["task_ids"])
        if not ids:
            raise forms.ValidationError("Paste at least one task ID.")
        if len(ids) > TRACK_MAX_IDS:
            raise forms.ValidationError(
                f"You pasted {len(ids):,} task IDs; at most {TRACK_MAX_IDS} can be tracked at "
                f"once. Track the first {TRACK_MAX_IDS}, then paste the rest."
            )
        too_long = [i for i in ids if len(i) > 255]
        if too_long:
            raise forms.ValidationError(
                f"Task IDs are at most 255 characters; {too_long[0][:40]}… has {len(too_long[0])}."
            )
        return ids
