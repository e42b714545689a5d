from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl, urlsplit

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email

from dashboard.alerts.presenters import target_display
from jobs.alerts import EVENTS
from jobs.alerts.events import ACCOUNT_EVENTS
from jobs.http import address_allowed
from jobs.models import Account, AlertRule, SavedView
from jobs.providers import provider_choices

webhook_url = URLValidator(schemes=["http", "https"])


def minutes_field(
    label: str, help_text: str, *, initial: int, required: bool = True
) -> forms.IntegerField:
    """A rule's threshold in minutes: at least one, at most a week."""
    return forms.IntegerField(
        required=required,
        min_value=1,
        max_value=7 * 24 * 60,
        initial=initial,
        label=label,
        help_text=help_text,
    )


# The stubs make ModelForm generic; at run time it is not.
if TYPE_CHECKING:
    RuleModelForm = forms.ModelForm[AlertRule]
else:
    RuleModelForm = forms.ModelForm


class AlertRuleForm(RuleModelForm):
    """An alert rule. The signing secret is write-only: never rendered back, and a blank
    field keeps the stored one (like account credentials in the admin)."""

    providers = forms.MultipleChoiceField(
        required=False,
        choices=provider_choices,
        widget=forms.CheckboxSelectMultiple,
        help_text="None checked: every provider.",
    )
    accounts = forms.ModelMultipleChoiceField(
        required=False,
        queryset=Account.objects.none(),
        to_field_name="code",
        help_text="None selected: every account.",
    )
    kinds = forms.CharField(
        required=False,
        max_length=1000,
        help_text="Job kinds, separated by commas (job events only). Empty: every kind.",
    )
    # The model keeps one `events` list; the form shows job and account events apart.
    events = forms.MultipleChoiceField(
        required=False,
        choices=list(EVENTS.items()),
        widget=forms.CheckboxSelectMultiple,
        label="Job events",
    )
    account_events = forms.MultipleChoiceField(
        required=False,
        choices=list(ACCOUNT_EVENTS.items()),
        widget=forms.CheckboxSelectMultiple,
        label="Account events",
        help_text="A rule told of an account's trouble also hears when it answers again.",
    )
    stuck_minutes = minutes_field(
        "Stuck after (minutes)",
        "A queued or running job with no progress or queue movement for this long.",
        initial=30,
    )
    # Not required: see clean_unreachable_minutes.
    unreachable_minutes = minutes_field(
        "Unreachable for (minutes)",
        "Requests failing (timeouts, errors) with no good answer for this long.",
        initial=10,
        required=False,
    )
    rate_limited_minutes = minutes_field(
        "Rate-limited for (minutes)",
        "The provider throttling the account with no good answer for this long.",
        initial=10,
        required=False,
    )
    target = forms.CharField(
        max_length=500,
        widget=forms.TextInput(attrs={"size": 70, "spellcheck": "false", "autocomplete": "off"}),
        help_text="Email addresses (comma-separated), or the webhook / robot URL.",
    )
    secret = forms.CharField(
        required=False,
        max_length=200,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text="Webhook: the HMAC key (required). DingTalk: the SEC… signing secret. "
        "Feishu: the signature verification secret. Optional for robots.",
    )
    clear_secret = forms.BooleanField(required=False, label="Remove the stored secret")

    class Meta:
        model = AlertRule
        fields = [
            "name",
            "enabled",
            "providers",
            "accounts",
            "kinds",
            "events",
            "stuck_minutes",
            "unreachable_minutes",
            "rate_limited_minutes",
            "channel",
            "target",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        accounts = cast("forms.ModelMultipleChoiceField[Account]", self.fields["accounts"])
        accounts.queryset = Account.objects.only("code", "name").order_by("name")
        accounts.widget.attrs["size"] = 6
        channel = cast(forms.ChoiceField, self.fields["channel"])
        channel.choices = [("", "Choose a channel")] + AlertRule.Channel.choices
        self.has_secret = bool(self.instance.pk and (self.instance.secrets or {}).get("secret"))
        if self.has_secret:
            self.fields[
                "secret"
            ].help_text = (
                "A secret is stored. Leave blank to keep it; type a new one to replace it."
            )
        else:
            del self.fields["clear_secret"]
        if self.instance.pk and not self.is_bound:
            self.initial["kinds"] = ", ".join(self.instance.kinds)
            chosen = self.instance.events
            self.initial["events"] = [e for e in chosen if e in EVENTS]
            self.initial["account_events"] = [e for e in chosen if e in ACCOUNT_EVENTS]
        # The target is write-only like the secret: robot URLs carry their access token.
        self.stored_target = self.instance.target if self.instance.pk else ""
        if self.stored_target:
            self.initial["target"] = ""
            self.fields["target"].required = False
            self.fields["target"].help_text = (
                f"Now: {target_display(self.instance)}. Leave blank to keep it; "
                "type the full address or URL to replace it."
            )

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"].strip()
        if self.instance.owner_id and name_taken(self.instance, name):
            raise ValidationError(
                f"There is already an alert rule named “{name}” (names are unique per owner, "
                "ignoring case). Choose another name."
            )
        return name

    def _minutes_or_kept(self, name: str) -> int:
        # Blank keeps the rule's value (a new rule's: the default), so a form posted
        # without the account fields, from before they existed, still saves.
        value = self.cleaned_data[name]
        return int(getattr(self.instance, name) if value is None else value)

    def clean_unreachable_minutes(self) -> int:
        return self._minutes_or_kept("unreachable_minutes")

    def clean_rate_limited_minutes(self) -> int:
        return self._minutes_or_kept("rate_limited_minutes")

    def clean_kinds(self) -> list[str]:
        kinds = [k.strip() for k in self.cleaned_data["kinds"].split(",") if k.strip()]
        if any(len(k) > 100 for k in kinds):
            raise ValidationError("A kind is at most 100 characters.")
        return list(dict.fromkeys(kinds))

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        if "events" in data and "account_events" in data:
            data["events"] = [*data["events"], *data["account_events"]]
            if not data["events"]:
                self.add_error("events", "Choose at least one job or account event.")
        if not data.get("target") and "target" not in self.errors and self.stored_target:
            data["target"] = self.stored_target
        channel, target = data.get("channel"), data.get("target", "")
        if channel and target:
            try:
                if channel == AlertRule.Channel.EMAIL:
                    _check_addresses(target)
                else:
                    _check_url(target)
            except ValidationError as exc:
                self.add_error("target", exc)
        keeps_secret = self.has_secret and not data.get("clear_secret")
        if channel == AlertRule.Channel.WEBHOOK and not (data.get("secret") or keeps_secret):
            self.add_error("secret", "A webhook needs a secret: receivers check the signature.")
        return data

    def save(self, commit: bool = True) -> AlertRule:
        rule = super().save(commit=False)
        if self.cleaned_data.get("secret"):
            rule.secrets = {"secret": self.cleaned_data["secret"]}
        elif self.cleaned_data.get("clear_secret"):
            rule.secrets = {}
        if commit:
            rule.save()
            self.save_m2m()
        return rule


def name_taken(rule: AlertRule, name: str) -> bool:
    """Whether the rule's owner has another rule of this name (ignoring case)."""
    others = AlertRule.objects.filter(owner_id=rule.owner_id, name__iexact=name)
    return others.exclude(pk=rule.pk).exists() if rule.pk else others.exists()


NAME_TAKEN = "There is already an alert rule with this name; choose another name."


def _check_addresses(target: str) -> None:
    addresses = [a.strip() for a in target.split(",") if a.strip()]
    if not addresses:
        raise ValidationError("Give at least one email address.")
    for address in addresses:
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationError(f"{address!r} is not an email address.") from None


def _check_url(target: str) -> None:
    try:
        webhook_url(target)
    except ValidationError:
        raise ValidationError("Give the full http(s) URL of the webhook.") from None
    host = (urlsplit(target).hostname or "").strip("[]")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return  # a name: checked after DNS, when the message is sent
    if not address_allowed(host, allow_loopback=settings.CLAPBOARD_ALLOW_LOOPBACK_FETCH):
        raise ValidationError(
            f"{host} is a private, loopback or metadata address; alerts only go to public ones."
        )


def initial_from_view(view: SavedView) -> dict[str, Any]:
    """A new rule's fields from a saved view of the job list: its provider, account and
    kind become the rule's scope, a Failed or Succeeded tab its event, and its name the
    rule's. The search text and dates have no rule equivalent and are left out."""
    params = dict(parse_qsl(view.query))
    initial: dict[str, Any] = {"name": view.name[:100]}
    if params.get("provider"):
        initial["providers"] = [params["provider"]]
    if params.get("account"):
        initial["accounts"] = [params["account"]]
    if params.get("kind"):
        initial["kinds"] = params["kind"]
    if params.get("state") in ("failed", "succeeded"):
        initial["events"] = [params["state"]]
    return initial
