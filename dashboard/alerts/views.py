"""Alert rules: the operator's own rules (staff see everyone's), their deliveries and a
"send test" button. Viewers and outsiders get 403; someone else's rule is a 404."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from dashboard.alerts.forms import NAME_TAKEN, AlertRuleForm, initial_from_view
from dashboard.alerts.presenters import RuleRow, target_display
from dashboard.requests import AuthenticatedHttpRequest
from jobs.alerts import alert_send_test
from jobs.models import AlertDelivery, AlertRule, SavedView
from jobs.services.audit import Action, Outcome, Via, audit_record

RECENT_DELIVERIES = 3
DELIVERIES_PER_PAGE = 50
OPERATE = "jobs.operate_job"


def _rules_for_user(request: AuthenticatedHttpRequest) -> QuerySet[AlertRule]:
    rules = AlertRule.objects.select_related("owner")
    return rules if request.user.is_staff else rules.filter(owner=request.user)


def _rule_for_user(request: AuthenticatedHttpRequest, code: str) -> AlertRule:
    """The rule behind `code` if this user may manage it (own rule, or staff); 404 otherwise."""
    return get_object_or_404(_rules_for_user(request), code=code)


@permission_required(OPERATE, raise_exception=True)
def alert_rules(request: AuthenticatedHttpRequest) -> HttpResponse:
    recent = AlertDelivery.objects.defer("payload").order_by("-created_at", "-id")
    rules = (
        _rules_for_user(request)
        .prefetch_related(
            "accounts",
            Prefetch("deliveries", recent[:RECENT_DELIVERIES], to_attr="recent_deliveries"),
        )
        .annotate(
            pending=Count("deliveries", filter=Q(deliveries__status=AlertDelivery.Status.PENDING)),
            failed=Count("deliveries", filter=Q(deliveries__status=AlertDelivery.Status.FAILED)),
        )
        .order_by("name", "id")
    )
    return render(request, "alerts/rules.html", {"rows": [RuleRow(rule) for rule in rules]})


def _edit(request: AuthenticatedHttpRequest, rule: AlertRule | None) -> HttpResponse:
    initial = {}
    if rule is None and (view := _saved_view(request)) is not None:
        initial = initial_from_view(view)  # "alert…" beside a saved view on the list
    # A new rule has its owner before validation: names are unique per owner.
    form = AlertRuleForm(
        request.POST or None, instance=rule or AlertRule(owner=request.user), initial=initial
    )
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                saved = form.save()
                # Field names only: a rule's targets (webhook URLs) can hold secrets.
                audit_record(
                    user=request.user,
                    via=Via.WEB,
                    action=Action.RULE_CHANGE if rule else Action.RULE_CREATE,
                    outcome=Outcome.DONE,
                    summary=f"Alert rule “{saved.name}”"
                    + (f": changed {', '.join(form.changed_data) or 'nothing'}" if rule else ""),
                    detail={"rule": str(saved.code), "changed": form.changed_data},
                )
        except IntegrityError:  # the same name saved a moment ago (a double submit)
            form.add_error("name", NAME_TAKEN)
        else:
            messages.success(request, f"Alert rule “{saved.name}” saved.")
            return redirect("alert-rules")
    return render(request, "alerts/rule_form.html", {"form": form, "rule": rule})


def _saved_view(request: AuthenticatedHttpRequest) -> SavedView | None:
    """The saved view named by `?view=` that this user sees, if any."""
    try:
        code = uuid.UUID(request.GET.get("view", ""))
    except ValueError:
        return None
    return SavedView.objects.filter(Q(owner=request.user) | Q(shared=True), code=code).first()


@permission_required(OPERATE, raise_exception=True)
@require_http_methods(["GET", "POST"])
def alert_rule_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _edit(request, None)


@permission_required(OPERATE, raise_exception=True)
@require_http_methods(["GET", "POST"])
def alert_rule_edit(request: AuthenticatedHttpRequest, code: str) -> HttpResponse:
    return _edit(request, _rule_for_user(request, code))


@permission_required(OPERATE, raise_exception=True)
@require_http_methods(["GET", "POST"])
def alert_rule_delete(request: AuthenticatedHttpRequest, code: str) -> HttpResponse:
    rule = _rule_for_user(request, code)
    if request.method == "POST":
        with transaction.atomic():
            rule.delete()
            audit_record(
                user=request.user,
                via=Via.WEB,
                action=Action.RULE_DELETE,
                outcome=Outcome.DONE,
                summary=f"Alert rule “{rule.name}” deleted",
                detail={"rule": str(rule.code)},
            )
        messages.success(request, f"Alert rule “{rule.name}” deleted.")
        return redirect("alert-rules")
    return render(request, "alerts/rule_delete.html", {"rule": rule})


@permission_required(OPERATE, raise_exception=True)
@require_POST
def alert_rule_test(request: AuthenticatedHttpRequest, code: str) -> HttpResponse:
    rule = _rule_for_user(request, code)
    delivery = alert_send_test(rule=rule)
    where = f"{rule.get_channel_display()} {target_display(rule)}"
    if delivery.status == AlertDelivery.Status.SENT:
        answer = f" (HTTP {delivery.response_status})" if delivery.response_status else ""
        messages.success(request, f"Test message sent to {where}{answer}.")
    else:
        messages.error(request, f"Test message to {where} failed: {delivery.last_error}")
    if request.POST.get("back") == "deliveries":
        return redirect("alert-deliveries", code=rule.code)
    return redirect("alert-rules")


@permission_required(OPERATE, raise_exception=True)
def alert_deliveries(request: AuthenticatedHttpRequest, code: str) -> HttpResponse:
    rule = _rule_for_user(request, code)
    deliveries = rule.deliveries.order_by("-created_at", "-id")
    page = Paginator(deliveries, DELIVERIES_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "alerts/deliveries.html",
        {"rule": rule, "page": page, "target": target_display(rule)},
    )
