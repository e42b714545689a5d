"""The Submit page's form: a Tencent CI voice separation job."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.forms.utils import pretty_name

from jobs.models import Account, Job
from jobs.providers.tencent_ci import BUCKET as _BUCKET
from jobs.providers.tencent_ci import CONTROL_CHARS as _CONTROL
from jobs.providers.tencent_ci import MAX_OBJECT_KEY_BYTES, TencentCi
from jobs.providers.tencent_ci import TEMPLATE_ID as _TEMPLATE_ID


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
