from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.timesince import timesince

from jobs.models import Account, Job, JobEvent, ShareLink
from jobs.providers import PROVIDERS, provider_class
from jobs.providers.base import ProviderError, SchemaField

# The app sidebar took a quarter of the width the account list needs; the index and the
# breadcrumbs already lead everywhere.
admin.site.enable_nav_sidebar = False

CRED_PREFIX = "credential__"
OPTION_PREFIX = "option__"


class AccountForm(forms.ModelForm):
    """Account form whose credential inputs are write-only.

    The fields come from the chosen provider's declared schema. A saved secret is never
    rendered back: inputs start empty, and an empty input keeps the stored value.
    """

    class Meta:
        model = Account
        fields = ["name", "provider", "region", "endpoint", "enabled", "rate_limit"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        code = self.data.get("provider") or self.initial.get("provider") or self.instance.provider
        self.schema = provider_class(code) if code in PROVIDERS else None
        if self.schema is None:
            return
        stored = self.instance.credentials if self.instance.pk else {}
        for field in self.schema.credential_fields:
            have = bool(stored.get(field.name))
            self.fields[CRED_PREFIX + field.name] = forms.CharField(
                label=field.label,
                required=field.required and not have,
                strip=True,
                widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
                help_text=_credential_help(field, have),
            )
        for field in self.schema.option_fields:
            self.fields[OPTION_PREFIX + field.name] = forms.CharField(
                label=field.label,
                required=field.required,
                initial=self.instance.options.get(field.name, "") if self.instance.pk else "",
                help_text=field.help_text,
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.schema is None:
            return cleaned
        if self.instance.pk and self.instance.provider != cleaned.get("provider"):
            # Credentials of one provider mean nothing to another.
            stored: dict[str, str] = {}
        else:
            stored = dict(self.instance.credentials) if self.instance.pk else {}
        credentials = {}
        for field in self.schema.credential_fields:
            typed = cleaned.get(CRED_PREFIX + field.name, "")
            if typed or stored.get(field.name):
                credentials[field.name] = typed or stored[field.name]
        options = {
            f.name: cleaned.get(OPTION_PREFIX + f.name, "") for f in self.schema.option_fields
        }
        try:
            self.clean_credentials, self.clean_options = self.schema.validate_settings(
                credentials, options
            )
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None
        return cleaned

    def save(self, commit: bool = True) -> Account:
        account = super().save(commit=False)
        account.credentials = self.clean_credentials
        account.options = self.clean_options
        if commit:
            account.save()
        return account


def _ago(when: datetime | None) -> str | None:
    """ "3 minutes ago", the exact time on hover; None (the admin's "-") when never."""
    if when is None:
        return None
    exact = date_format(timezone.localtime(when), "DATETIME_FORMAT")
    if timezone.now() - when < timedelta(minutes=1):
        return format_html('<span title="{}">just now</span>', exact)
    return format_html('<span title="{}">{} ago</span>', exact, timesince(when, depth=1))


def _credential_help(field: SchemaField, have: bool) -> str:
    hint = "Stored — leave empty to keep it." if have else "Not set."
    return f"{hint} {field.help_text}".strip()


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):
    form = AccountForm
    list_display = [
        "name",
        "provider",
        "masked_id",
        "region",
        "enabled",
        "last_ok",
        "last_failed",
        "failures",
    ]
    list_filter = ["provider", "enabled"]
    search_fields = ["name"]
    readonly_fields = ["masked_id", "last_ok_at", "last_error", "last_error_at"]
    actions = ["test_connection"]

    @admin.display(description="Identifier")
    def masked_id(self, account: Account) -> str:
        return account.masked_id if account.pk else "—"

    # Short column labels and values, so the whole list fits beside the admin's sidebars.
    @admin.display(description="Last OK", ordering="last_ok_at")
    def last_ok(self, account: Account) -> str | None:
        return _ago(account.last_ok_at)

    @admin.display(description="Last error", ordering="last_error_at")
    def last_failed(self, account: Account) -> str | None:
        return _ago(account.last_error_at)

    @admin.display(description="Failures", ordering="consecutive_failures")
    def failures(self, account: Account) -> int:
        return account.consecutive_failures

    def get_fieldsets(self, request: HttpRequest, obj: Account | None = None) -> Any:
        form = self.get_form(request, obj)(
            data=request.POST or None, initial=request.GET.dict(), instance=obj
        )
        extra = [name for name in form.fields if name.startswith((CRED_PREFIX, OPTION_PREFIX))]
        general = ["name", "provider", "region", "endpoint", "enabled", "rate_limit"]
        sets: list[Any] = [(None, {"fields": general})]
        if extra:
            sets.append(("Credentials and options", {"fields": extra}))
        else:
            sets.append(
                (
                    "Credentials",
                    {
                        "fields": [],
                        "description": "Choose a provider and save: its credential "
                        "fields appear next.",
                    },
                )
            )
        if obj is not None:
            sets.append(("Health", {"fields": self.readonly_fields}))
        return sets

    def get_form(self, request: HttpRequest, obj: Account | None = None, **kwargs: Any) -> Any:
        # The dynamic credential fields are not model fields; let the form own them.
        kwargs["fields"] = None
        return super().get_form(request, obj, **kwargs)

    @admin.action(description="Test connection")
    def test_connection(self, request: HttpRequest, queryset: QuerySet[Account]) -> None:
        for account in queryset:
            try:
                account.adapter().check_credentials()
            except ProviderError as exc:
                self.message_user(request, f"{account.name}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{account.name}: connection OK", messages.SUCCESS)


class JobEventInline(admin.TabularInline):
    model = JobEvent
    extra = 0
    can_delete = False
    fields = ["at", "state", "provider_state", "progress", "queue_position", "failure_code"]
    readonly_fields = fields
    ordering = ["-at"]
    max_num = 0


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = [
        "display_name",
        "external_id",
        "account",
        "kind",
        "state",
        "progress",
        "queue_position",
        "failure_code",
        "tracked_at",
        "last_polled_at",
    ]
    list_filter = ["state", "account__provider", "account", "kind"]
    search_fields = ["external_id", "name"]
    list_select_related = ["account"]
    readonly_fields = ["code", "version", "raw", "words", "last_polled_at", "poll_errors"]
    date_hierarchy = "tracked_at"
    show_full_result_count = False


@admin.register(JobEvent)
class JobEventAdmin(admin.ModelAdmin):
    list_display = ["job", "at", "state", "provider_state", "progress", "failure_code"]
    list_filter = ["state"]
    list_select_related = ["job"]
    raw_id_fields = ["job"]
    show_full_result_count = False


@admin.register(ShareLink)
class ShareLinkAdmin(admin.ModelAdmin):
    list_display = ["job", "created_by", "created_at", "expires_at", "revoked_at", "use_count"]
    list_filter = ["revoked_at"]
    list_select_related = ["job", "created_by"]
    raw_id_fields = ["job"]
    readonly_fields = ["token_hash", "last_used_at", "use_count"]
