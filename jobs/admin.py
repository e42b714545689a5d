from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.timesince import timesince

from jobs import services
from jobs.models import Account, AuditEntry, Job, JobEvent, ShareLink, mask
from jobs.providers import PROVIDERS, provider_class
from jobs.providers.base import SchemaField
from jobs.services.audit import Action, Outcome, Via, audit_record

# The app sidebar took a quarter of the width the account list needs; the index and the
# breadcrumbs already lead everywhere.
admin.site.enable_nav_sidebar = False

if TYPE_CHECKING:
    # django-stubs makes these generic over the model; at run time they cannot be
    # subscripted (no django_stubs_ext monkeypatch), so only the type checker sees it.
    _AccountForm = forms.ModelForm[Account]
    _AccountAdmin = admin.ModelAdmin[Account]
    _JobAdmin = admin.ModelAdmin[Job]
    _JobEventAdmin = admin.ModelAdmin[JobEvent]
    _ShareLinkAdmin = admin.ModelAdmin[ShareLink]
    _AuditEntryAdmin = admin.ModelAdmin[AuditEntry]
else:
    _AccountForm = forms.ModelForm
    _AccountAdmin = _JobAdmin = _JobEventAdmin = _ShareLinkAdmin = admin.ModelAdmin
    _AuditEntryAdmin = admin.ModelAdmin

CRED_PREFIX = "credential__"
OPTION_PREFIX = "option__"


class AccountForm(_AccountForm):
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
        if not self.instance.pk and code in PROVIDERS and "provider" in self.fields:
            # Step two of adding: the provider was chosen in step one, and the inputs
            # below are that provider's; the page says which, with a way back.
            self.fields["provider"].widget = forms.HiddenInput()
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
        super().clean()
        cleaned = self.cleaned_data
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
            self.clean_credentials, self.clean_options = services.account_settings_clean(
                provider=self.schema.code, credentials=credentials, options=options
            )
        except services.InvalidInput as exc:
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


GENERAL_FIELDS = ["name", "provider", "region", "endpoint", "enabled", "rate_limit"]
HEALTH_FIELDS = ["masked_id", "last_ok_at", "last_error", "last_error_at"]


@admin.register(Account)
class AccountAdmin(_AccountAdmin):
    form = AccountForm
    change_form_template = "admin/jobs/account/change_form.html"
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
    readonly_fields = [*HEALTH_FIELDS, "stored_settings"]
    actions = ["test_connection"]

    def save_model(self, request: HttpRequest, obj: Account, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # Field names only: a credential's value never reaches the log.
        changed = [name.replace("__", " ") for name in form.changed_data]
        audit_record(
            user=request.user,
            via=Via.ADMIN,
            action=Action.ACCOUNT_CHANGE if change else Action.ACCOUNT_CREATE,
            outcome=Outcome.DONE,
            summary=(
                f"{obj.name}: changed {', '.join(changed) or 'nothing'}"
                if change
                else f"Added {obj.name} ({obj.provider_label})"
            ),
            account=obj,
            detail={"changed": changed},
        )

    def delete_model(self, request: HttpRequest, obj: Account) -> None:
        self._audit_deleted(request, [obj])
        super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Account]) -> None:
        self._audit_deleted(request, list(queryset))
        super().delete_queryset(request, queryset)

    def _audit_deleted(self, request: HttpRequest, accounts: list[Account]) -> None:
        for account in accounts:
            audit_record(
                user=request.user,
                via=Via.ADMIN,
                action=Action.ACCOUNT_DELETE,
                outcome=Outcome.DONE,
                summary=f"Deleted {account.name} ({account.provider_label}) and its jobs",
                detail={"account": account.name, "provider": account.provider},
            )

    @admin.display(description="Identifier")
    def masked_id(self, account: Account) -> str:
        return account.masked_id if account.pk else "—"

    @admin.display(description="Credentials and options")
    def stored_settings(self, account: Account) -> str:
        """What is stored, for view-only staff: identifiers masked, secrets only as "stored"."""
        if account.provider not in PROVIDERS:
            return "—"
        schema = account.adapter_class
        rows = []
        for field in schema.credential_fields:
            value = str(account.credentials.get(field.name, ""))
            shown = "not set" if not value else "stored" if field.secret else mask(value)
            rows.append((field.label, shown))
        for field in schema.option_fields:
            rows.append((field.label, str(account.options.get(field.name, "")) or "—"))
        return format_html_join(mark_safe("<br>"), "{}: {}", rows)

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
        sets: list[Any] = [(None, {"fields": GENERAL_FIELDS})]
        if obj is not None and not self.has_change_permission(request, obj):
            # View-only: a read-only page that describes the credentials, no inputs.
            sets.append(("Credentials", {"fields": ["stored_settings"]}))
        else:
            form = self.get_form(request, obj)(
                data=request.POST or None,
                initial=self.get_changeform_initial_data(request),
                instance=obj,
            )
            extra = [n for n in form.fields if n.startswith((CRED_PREFIX, OPTION_PREFIX))]
            if form.schema is not None:
                sets.append(
                    (
                        "Credentials and options",
                        {"fields": extra, "description": form.schema.credentials_help},
                    )
                )
        if obj is not None:
            sets.append(("Health", {"fields": HEALTH_FIELDS}))
        return sets

    def get_form(
        self, request: HttpRequest, obj: Account | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        # The form adds the provider's credential inputs itself; they are not model fields.
        kwargs["fields"] = GENERAL_FIELDS
        return super().get_form(request, obj, change, **kwargs)

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """Adding takes two steps: choose the provider, then fill in its credentials."""
        if request.method == "GET" and request.GET.get("provider") not in PROVIDERS:
            if not self.has_add_permission(request):
                raise PermissionDenied
            return TemplateResponse(
                request,
                "admin/jobs/account/choose_provider.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Add account",
                    "subtitle": "Step 1 of 2: choose the provider",
                    "opts": self.opts,
                    "providers": [
                        (code, label, provider_class(code).credentials_help)
                        for code, (label, _) in PROVIDERS.items()
                    ],
                },
            )
        provider = request.POST.get("provider") or request.GET.get("provider", "")
        context = dict(extra_context or {})
        if provider in PROVIDERS:
            context["chosen_provider"] = PROVIDERS[provider][0]
            context["subtitle"] = f"Step 2 of 2: {PROVIDERS[provider][0]} credentials"
        return super().add_view(request, form_url, context)

    def render_change_form(
        self, request: HttpRequest, context: dict[str, Any], *args: Any, **kwargs: Any
    ) -> HttpResponse:
        obj = kwargs.get("obj")
        context["can_test_connection"] = obj is not None and self.has_change_permission(
            request, obj
        )
        return super().render_change_form(request, context, *args, **kwargs)

    def get_urls(self) -> list[Any]:
        test = path(
            "<path:object_id>/test-connection/",
            self.admin_site.admin_view(self.test_connection_view),
            name="jobs_account_test_connection",
        )
        return [test, *super().get_urls()]

    def test_connection_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The change page's "Test connection" button (POST, CSRF-checked by the admin)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        account = self.get_object(request, object_id)
        if account is None:
            raise Http404("no such account")
        if not self.has_change_permission(request, account):
            raise PermissionDenied
        self._report_check(request, account)
        return redirect("admin:jobs_account_change", account.pk)

    @admin.action(description="Test connection", permissions=["change"])
    def test_connection(self, request: HttpRequest, queryset: QuerySet[Account]) -> None:
        for account in queryset:
            self._report_check(request, account)

    def _report_check(self, request: HttpRequest, account: Account) -> None:
        error = services.account_check(account_id=account.pk)
        if error is None:
            self.message_user(request, f"{account.name}: connection OK", messages.SUCCESS)
        else:
            self.message_user(request, f"{account.name}: {error}", messages.ERROR)


@admin.register(Job)
class JobAdmin(_JobAdmin):
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
class JobEventAdmin(_JobEventAdmin):
    list_display = ["job", "at", "state", "provider_state", "progress", "failure_code"]
    list_filter = ["state"]
    list_select_related = ["job"]
    raw_id_fields = ["job"]
    show_full_result_count = False


@admin.register(ShareLink)
class ShareLinkAdmin(_ShareLinkAdmin):
    list_display = ["job", "created_by", "created_at", "expires_at", "revoked_at", "use_count"]
    list_filter = ["revoked_at"]
    list_select_related = ["job", "created_by"]
    raw_id_fields = ["job"]
    readonly_fields = ["token_hash", "last_used_at", "use_count"]


@admin.register(AuditEntry)
class AuditEntryAdmin(_AuditEntryAdmin):
    """The audit log, read-only: nobody adds, changes or deletes an entry here."""

    list_display = ["at", "actor", "via", "action", "outcome", "summary", "job_count"]
    list_filter = ["action", "outcome", "via"]
    search_fields = ["actor", "summary"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False
