"""The job pages' forms: the list's filters, a paste of task IDs, a voice-separation job."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, cast

from django import forms
from django.db.models import QuerySet
from django.forms.utils import pretty_name
from django.utils import timezone

from jobs.models import STATE_CHOICES, Account, Job
from jobs.providers import provider_choices
from jobs.providers.tencent_ci import BUCKET as _BUCKET
from jobs.providers.tencent_ci import CONTROL_CHARS as _CONTROL
from jobs.providers.tencent_ci import MAX_OBJECT_KEY_BYTES, TencentCi
from jobs.providers.tencent_ci import TEMPLATE_ID as _TEMPLATE_ID
from jobs.selectors import NO_FAILURE_CODE, JobFilters, job_filter, known_kinds
from jobs.services import TRACK_MAX_IDS, parse_external_ids

ANY = [("", "Any")]
# Filter dates outside this range are refused: the day after date.max does not exist.
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(9999, 12, 30)
# Times to the second, as a datetime-local input shows and sends them (step 1 s).
SECONDS = "%Y-%m-%dT%H:%M:%S"
SECOND_INPUT = {"type": "datetime-local", "step": "1"}
FINISHED_FIELDS = ("finished_from", "finished_to")


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
    ]

    q = forms.CharField(
        required=False,
        max_length=255,
        label="Search",
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": "Task ID (or part) or name"}
        ),
    )
    state = forms.ChoiceField(required=False, choices=ANY + STATE_CHOICES)
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

    def __init__(self, *args: Any, known_kinds_only: bool = True, **kwargs: Any) -> None:
        """With `known_kinds_only` (the page) Kind is a choice among the kinds that exist;
        the API accepts any kind, so a script may wait for one that has no job yet."""
        super().__init__(*args, **kwargs)
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
        return data

    @property
    def current_state(self) -> str:
        return self.filters.get("state", "")

    def filter(self, jobs: QuerySet[Job], *, with_state: bool = True) -> QuerySet[Job]:
        """Apply every valid filter (the state one only when `with_state`)."""
        return job_filter(jobs, self.filters, with_state=with_state)

    @property
    def active(self) -> bool:
        return self.is_valid() and any(
            value for name, value in self.cleaned_data.items() if name != "state"
        )

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


class VoiceSeparationForm(forms.Form):
    """Tencent CI VoiceSeparate: a template, or an audio mode with optional audio config.

    Every field is checked here, all at once, with the adapter's own rules (bucket name,
    region list, object keys), so the person sees each mistake next to its field; the
    adapter checks them again before anything is sent.
    """

    AUDIO_MODES = [
        ("", "—"),
        ("IsAudio", "Voice only (IsAudio)"),
        ("IsBackground", "Background only (IsBackground)"),
        ("AudioAndBackground", "Voice and background (AudioAndBackground)"),
        ("MusicMode", "Music mode (MusicMode)"),
    ]
    CODECS = [
        ("", "Template / default"),
        ("mp3", "mp3"),
        ("aac", "aac"),
        ("flac", "flac"),
        ("wav", "wav"),
        ("m4a", "m4a"),
        ("amr", "amr"),
    ]
    OBJECT_FIELDS = ("input_object", "background_object", "voice_object")

    account = forms.ModelChoiceField(
        queryset=Account.objects.none(), to_field_name="code", empty_label="Choose an account"
    )
    # Lengths are checked by the clean_ methods, in the label's words (and in bytes).
    input_object = forms.CharField(
        help_text="Object key in the account's bucket, e.g. input/demo.mp4"
    )
    template_id = forms.CharField(required=False, label="Template ID")
    audio_mode = forms.ChoiceField(required=False, choices=AUDIO_MODES)
    codec = forms.ChoiceField(required=False, choices=CODECS)
    samplerate = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        label="Sample rate",
        choices=[("", "—")]
        + [(str(r), f"{r} Hz") for r in (8000, 11025, 16000, 22050, 32000, 44100, 48000)],
    )
    bitrate = forms.IntegerField(
        required=False,
        min_value=8,
        max_value=1000,
        label="Bitrate (kbps)",
        error_messages={
            "invalid": "Bitrate (kbps) must be a whole number.",
            "min_value": "Bitrate (kbps) must be at least %(limit_value)s.",
            "max_value": "Bitrate (kbps) must be at most %(limit_value)s.",
        },
    )
    channels = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, choices=[("", "—"), ("1", "1"), ("2", "2")]
    )
    output_bucket = forms.CharField(help_text="name-APPID, e.g. examplebucket-1250000000")
    output_region = forms.ChoiceField(
        choices=[("", "Choose a region")]
        + [(code, f"{code} · {place}") for code, place in TencentCi.regions],
        help_text="The output bucket's region",
        error_messages={
            "invalid_choice": "“%(value)s” is not a Tencent Cloud COS region: choose the "
            "output bucket's region from the list."
        },
    )
    background_object = forms.CharField(required=False)
    voice_object = forms.CharField(required=False)

    def __init__(self, *args: Any, source: Job | None = None, **kwargs: Any) -> None:
        """With `source` the form resubmits that job: its account, fixed, and the
        parameters it was submitted with as the starting values."""
        super().__init__(*args, **kwargs)
        from jobs.providers import PROVIDERS, provider_class

        codes = [code for code in PROVIDERS if provider_class(code).can_submit]
        accounts = Account.objects.filter(provider__in=codes, enabled=True).order_by("name")
        cast("forms.ModelChoiceField[Account]", self.fields["account"]).queryset = accounts
        for name, field in self.fields.items():
            label = (field.label or pretty_name(name)).lower()
            verb = "Choose" if isinstance(field, forms.ChoiceField) else "Give"
            field.error_messages["required"] = f"{verb} the {label}."
        if source is not None:
            stored = source.submit_params or {}
            self.initial.update({k: v for k, v in stored.items() if k in self.fields})
            self.initial["account"] = source.account
            self.fields["account"].disabled = True  # what is posted for it is ignored
        elif not self.is_bound:
            only = list(accounts[:2])
            if len(only) == 1:  # nothing to choose: preselect it
                self.initial.setdefault("account", only[0])
                if dict(TencentCi.regions).get(only[0].region):
                    self.initial.setdefault("output_region", only[0].region)

    def _clean_object_key(self, name: str) -> str:
        value: str = self.cleaned_data.get(name, "")
        label = pretty_name(name).lower()
        if _CONTROL.search(value):
            raise forms.ValidationError(f"The {label} contains control characters.")
        size = len(value.encode("utf-8"))
        if size > MAX_OBJECT_KEY_BYTES:
            raise forms.ValidationError(
                f"The {label} is at most {MAX_OBJECT_KEY_BYTES} bytes of UTF-8 (it has {size})."
            )
        return value

    def clean_input_object(self) -> str:
        return self._clean_object_key("input_object")

    def clean_background_object(self) -> str:
        return self._clean_object_key("background_object")

    def clean_voice_object(self) -> str:
        return self._clean_object_key("voice_object")

    def clean_template_id(self) -> str:
        value: str = self.cleaned_data.get("template_id", "")
        if value and not _TEMPLATE_ID.fullmatch(value):
            raise forms.ValidationError(
                "The template ID has only letters, digits, - and _ (e.g. t1460606b9752148c4ab1)."
            )
        return value

    def clean_output_bucket(self) -> str:
        value: str = self.cleaned_data.get("output_bucket", "")
        if not _BUCKET.fullmatch(value):
            raise forms.ValidationError(
                f"“{value[:64]}” is not a bucket name: give the output bucket as name-APPID, "
                "lower-case letters, digits and hyphens, then the APPID "
                "(e.g. examplebucket-1250000000)."
            )
        return value

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        inline = any(
            data.get(name) for name in ("audio_mode", "codec", "samplerate", "bitrate", "channels")
        )
        if data.get("template_id") and inline:
            self.add_error("template_id", "Give a template ID or the audio settings, not both.")
        elif not data.get("template_id") and not data.get("audio_mode"):
            if "template_id" not in self.errors:
                self.add_error("audio_mode", "Choose an audio mode, or give a template ID.")
        if not data.get("background_object") and not data.get("voice_object"):
            if not {"background_object", "voice_object"} & set(self.errors):
                self.add_error(
                    "voice_object", "Name at least one output: voice, background or both."
                )
        return data

    def field_for_error(self, message: str) -> str | None:
        """The field an adapter's refusal names (its messages start with the field's name)."""
        return next((name for name in self.fields if message.startswith(name)), None)

    def submit_params(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data.pop("account")
        return {key: ("" if value is None else value) for key, value in data.items()}
