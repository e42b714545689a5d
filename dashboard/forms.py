from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time
from typing import Any

from django import forms
from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from jobs.models import STATE_CHOICES, Account, Job, JobStateCount
from jobs.providers import provider_choices

ANY = [("", "Any")]
# Searches count at most this many matching jobs for the tabs (then show "1000+").
COUNT_CAP = 1000


class JobFilterForm(forms.Form):
    """The job list's filters; they live in the URL so a view is bookmarkable."""

    q = forms.CharField(required=False, max_length=255, label="Search")
    state = forms.ChoiceField(required=False, choices=ANY + STATE_CHOICES)
    provider = forms.ChoiceField(required=False)
    account = forms.ModelChoiceField(
        required=False, queryset=Account.objects.none(), to_field_name="code", empty_label="Any"
    )
    kind = forms.CharField(required=False, max_length=100)
    created_from = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    created_to = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["provider"].choices = ANY + provider_choices()
        self.fields["account"].queryset = Account.objects.only("code", "name").order_by("name")

    def filter(self, jobs: QuerySet[Job], *, with_state: bool = True) -> QuerySet[Job]:
        """Apply every valid filter (the state one only when `with_state`)."""
        data = self.cleaned_data if self.is_valid() else {}
        if with_state and data.get("state"):
            jobs = jobs.filter(state=data["state"])
        if data.get("provider"):
            jobs = jobs.filter(account__provider=data["provider"])
        if data.get("account"):
            jobs = jobs.filter(account=data["account"])
        if data.get("kind"):
            jobs = jobs.filter(kind=data["kind"])
        if data.get("created_from") or data.get("created_to"):
            jobs = jobs.annotate(created=Coalesce("created_at", "tracked_at"))
            if data.get("created_from"):
                jobs = jobs.filter(created__gte=_day_start(data["created_from"]))
            if data.get("created_to"):
                jobs = jobs.filter(created__lt=_day_start(data["created_to"], next_day=True))
        if term := (data.get("q") or "").strip():
            jobs = jobs.filter(
                Q(external_id=term) | Q(external_id__startswith=term) | Q(name__icontains=term)
            )
        return jobs

    def state_counts(self) -> tuple[dict[str, int], bool]:
        """Jobs per state under every filter but the state one, and whether they are
        lower bounds.

        Filters by provider or account read the trigger-kept JobStateCount table (a
        handful of rows, whatever the number of jobs). Text, kind and date filters count
        the matching jobs themselves, but stop at COUNT_CAP matches: an exact count of a
        broad search would read most of the table on every poll.
        """
        data = self.cleaned_data if self.is_valid() else {}
        if any(data.get(name) for name in ("q", "kind", "created_from", "created_to")):
            jobs = self.filter(Job.objects.all(), with_state=False).order_by()
            states = list(jobs.values_list("state", flat=True)[: COUNT_CAP + 1])
            capped = len(states) > COUNT_CAP
            return dict(Counter(states[:COUNT_CAP])), capped
        counts = JobStateCount.objects.filter(count__gt=0)
        if data.get("provider"):
            counts = counts.filter(account__provider=data["provider"])
        if data.get("account"):
            counts = counts.filter(account=data["account"])
        return dict(counts.order_by().values_list("state").annotate(n=Sum("count"))), False

    @property
    def active(self) -> bool:
        return self.is_valid() and any(
            value for name, value in self.cleaned_data.items() if name != "state"
        )


def _day_start(day: Any, *, next_day: bool = False) -> datetime:
    from datetime import timedelta

    start = datetime.combine(day, time.min, tzinfo=UTC)
    return start + timedelta(days=1) if next_day else start


class TrackForm(forms.Form):
    account = forms.ModelChoiceField(
        queryset=Account.objects.filter(enabled=True).order_by("name"),
        to_field_name="code",
        empty_label="Choose an account",
    )
    task_ids = forms.CharField(
        label="Task IDs",
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        help_text="One per line, or separated by commas or spaces.",
        max_length=100_000,
    )


class VoiceSeparationForm(forms.Form):
    """Tencent CI VoiceSeparate: a template, or an audio mode with optional audio config."""

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

    account = forms.ModelChoiceField(
        queryset=Account.objects.none(), to_field_name="code", empty_label="Choose an account"
    )
    input_object = forms.CharField(
        max_length=850, help_text="Object key in the account's bucket, e.g. input/demo.mp4"
    )
    template_id = forms.CharField(required=False, max_length=64, label="Template ID")
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
        required=False, min_value=8, max_value=1000, label="Bitrate (kbps)"
    )
    channels = forms.TypedChoiceField(
        required=False, coerce=int, empty_value=None, choices=[("", "—"), ("1", "1"), ("2", "2")]
    )
    output_bucket = forms.CharField(max_length=64, help_text="name-APPID")
    output_region = forms.CharField(max_length=32, help_text="e.g. ap-guangzhou")
    background_object = forms.CharField(required=False, max_length=850)
    voice_object = forms.CharField(required=False, max_length=850)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from jobs.providers import PROVIDERS, provider_class

        codes = [code for code in PROVIDERS if provider_class(code).can_submit]
        self.fields["account"].queryset = Account.objects.filter(
            provider__in=codes, enabled=True
        ).order_by("name")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        inline = any(
            data.get(name) for name in ("audio_mode", "codec", "samplerate", "bitrate", "channels")
        )
        if data.get("template_id") and inline:
            self.add_error("template_id", "Give a template ID or the audio settings, not both.")
        elif not data.get("template_id") and not data.get("audio_mode"):
            self.add_error("audio_mode", "Choose an audio mode, or give a template ID.")
        if not data.get("background_object") and not data.get("voice_object"):
            self.add_error("voice_object", "Name at least one output: voice, background or both.")
        return data

    def submit_params(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data.pop("account")
        return {key: ("" if value is None else value) for key, value in data.items()}
