"""The alert pages: who may see them, creating and editing rules with a write-only
secret, the "send test" button and the deliveries page."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.urls import reverse

from jobs.alerts import alerts_deliver, alerts_scan
from jobs.models import Account, AlertDelivery, AlertRule
from jobs.roles import OPERATORS
from tests.csrf import csrf_post
from tests.test_alerts import fail_job, make_rule

SECRET = "whsec-never-shown-9d1c4b7a2e"
NEW_SECRET = "whsec-replaced-5e8f1a3c0d"


def _badge(state: str, icon: str, word: str) -> str:
    return f'<span class="badge state-{state}"><span aria-hidden="true">{icon}</span> {word}</span>'


@pytest.fixture
def vod(db) -> Account:
    return Account.objects.create(name="vod", provider="tencent_vod", credentials={})


@pytest.fixture
def rule(operator, receiver) -> AlertRule:
    return make_rule(
        operator, "webhook", receiver.url + "/hook", secrets={"secret": SECRET}, name="Render farm"
    )


def _form(receiver, **overrides) -> dict:
    return {
        "name": "Failures on VOD",
        "enabled": "on",
        "events": ["failed", "stuck"],
        "stuck_minutes": "45",
        "unreachable_minutes": "10",
        "rate_limited_minutes": "10",
        "providers": ["tencent_vod"],
        "kinds": "transcode, videomaker, transcode",
        "channel": "webhook",
        "target": receiver.url + "/hook",
        "secret": SECRET,
        **overrides,
    }


# --- access --------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["viewer_client", "outsider_client"])
def test_viewers_and_outsiders_get_403_everywhere(who, request, rule):
    client = request.getfixturevalue(who)
    code = rule.code
    for url in (
        reverse("alert-rules"),
        reverse("alert-rule-create"),
        reverse("alert-rule-edit", args=[code]),
        reverse("alert-rule-delete", args=[code]),
        reverse("alert-deliveries", args=[code]),
    ):
        assert client.get(url).status_code == 403, url
    assert csrf_post(client, reverse("alert-rule-test", args=[code])).status_code == 403
    assert csrf_post(client, reverse("alert-rule-delete", args=[code])).status_code == 403
    assert AlertRule.objects.filter(pk=rule.pk).exists()
    assert not AlertDelivery.objects.exists()


def test_anonymous_users_are_sent_to_login(rule):
    response = Client().get(reverse("alert-rules"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_another_operators_rule_is_not_found_but_staff_see_all(
    rule, django_user_model, staff_client
):
    from django.contrib.auth.models import Group

    from jobs.roles import OPERATORS

    colleague = django_user_model.objects.create_user("carla", password="pw-carla")
    colleague.groups.add(Group.objects.get(name=OPERATORS))
    client = Client(enforce_csrf_checks=True)
    client.force_login(colleague)

    assert rule.name not in client.get(reverse("alert-rules")).content.decode()
    assert client.get(reverse("alert-rule-edit", args=[rule.code])).status_code == 404
    assert client.get(reverse("alert-deliveries", args=[rule.code])).status_code == 404
    assert csrf_post(client, reverse("alert-rule-test", args=[rule.code])).status_code == 404

    page = staff_client.get(reverse("alert-rules")).content.decode()
    assert rule.name in page and "owner olivia" in page


def test_the_nav_shows_alerts_to_operators_only(operator_client, viewer_client):
    assert 'href="/alerts/"' in operator_client.get(reverse("job-list")).content.decode()
    assert 'href="/alerts/"' not in viewer_client.get(reverse("job-list")).content.decode()


# --- creating and editing ------------------------------------------------------------


def test_operator_creates_a_rule(operator, operator_client, receiver, accounts):
    account = accounts["tencent_vod"]
    response = csrf_post(
        operator_client,
        reverse("alert-rule-create"),
        _form(receiver, accounts=[str(account.code)]),
    )

    assert response.status_code == 302 and response["Location"] == reverse("alert-rules")
    rule = AlertRule.objects.get()
    assert rule.owner == operator and rule.name == "Failures on VOD"
    assert rule.events == ["failed", "stuck"] and rule.stuck_minutes == 45
    assert rule.providers == ["tencent_vod"] and rule.kinds == ["transcode", "videomaker"]
    assert list(rule.accounts.all()) == [account]
    assert rule.secrets == {"secret": SECRET}
    with connection.cursor() as cursor:  # encrypted at rest
        cursor.execute("SELECT secrets FROM jobs_alertrule WHERE id = %s", [rule.pk])
        assert SECRET not in cursor.fetchone()[0]


def test_a_rule_with_account_events_saves_them_and_shows_them_again(operator_client, receiver):
    data = _form(
        receiver,
        events=[],
        account_events=["credentials", "unreachable"],
        unreachable_minutes="5",
        rate_limited_minutes="20",
    )
    assert csrf_post(operator_client, reverse("alert-rule-create"), data).status_code == 302
    rule = AlertRule.objects.get()
    assert rule.events == ["credentials", "unreachable"]
    assert (rule.unreachable_minutes, rule.rate_limited_minutes) == (5, 20)

    rules_page = operator_client.get(reverse("alert-rules")).content.decode()
    assert "Credentials rejected, Provider unreachable" in rules_page
    assert "unreachable for 5 min" in rules_page and "rate-limited for" not in rules_page

    response = operator_client.get(reverse("alert-rule-edit", args=[rule.code]))
    html = response.content.decode()
    checked = re.findall(r'<input type="checkbox" name="(\w+)" value="(\w+)"[^>]*checked', html)
    assert [value for name, value in checked if name in ("events", "account_events")] == [
        "credentials",
        "unreachable",
    ]
    assert ("account_events", "credentials") in checked
    assert 'name="unreachable_minutes" value="5"' in html
    assert 'name="rate_limited_minutes" value="20"' in html


def test_blank_thresholds_keep_the_rules_own(operator_client, operator, receiver):
    data = _form(receiver, account_events=["unreachable"], unreachable_minutes="25")
    assert csrf_post(operator_client, reverse("alert-rule-create"), data).status_code == 302
    rule = AlertRule.objects.get()
    assert (rule.unreachable_minutes, rule.rate_limited_minutes) == (25, 10)
    del data["unreachable_minutes"]  # a form from before the fields existed
    data["rate_limited_minutes"] = ""
    url = reverse("alert-rule-edit", args=[rule.code])
    assert csrf_post(operator_client, url, data).status_code == 302
    rule.refresh_from_db()
    assert (rule.unreachable_minutes, rule.rate_limited_minutes) == (25, 10)


def test_the_secret_is_never_rendered_back(operator_client, rule, receiver, vod):
    fail_job(vod, "task-1")
    receiver.default = (500, f"bad signature for {SECRET}".encode())
    alerts_scan()
    alerts_deliver()

    for url in (
        reverse("alert-rules"),
        reverse("alert-rule-edit", args=[rule.code]),
        reverse("alert-deliveries", args=[rule.code]),
    ):
        page = operator_client.get(url).content.decode()
        assert SECRET not in page, url
    edit = operator_client.get(reverse("alert-rule-edit", args=[rule.code])).content.decode()
    assert 'name="secret"' in edit and "A secret is stored" in edit


def test_a_blank_secret_keeps_the_stored_one_and_a_new_one_replaces_it(
    operator_client, rule, receiver
):
    url = reverse("alert-rule-edit", args=[rule.code])
    response = csrf_post(operator_client, url, _form(receiver, name="Renamed", secret=""))
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.name == "Renamed" and rule.secrets == {"secret": SECRET}

    csrf_post(operator_client, url, _form(receiver, secret=NEW_SECRET))
    rule.refresh_from_db()
    assert rule.secrets == {"secret": NEW_SECRET}


def test_a_robot_secret_can_be_removed(operator_client, operator, receiver):
    rule = make_rule(operator, "dingtalk", receiver.url + "/robot/send?access_token=t")
    rule.secrets = {"secret": "SEC-robot"}
    rule.save()
    url = reverse("alert-rule-edit", args=[rule.code])
    data = _form(receiver, channel="dingtalk", target=rule.target, secret="", clear_secret="on")
    assert csrf_post(operator_client, url, data).status_code == 302
    rule.refresh_from_db()
    assert rule.secrets == {}


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"secret": ""}, "secret", "A webhook needs a secret"),
        ({"channel": "email", "target": "not-an-address"}, "target", "is not an email address"),
        ({"target": "ftp://example.com/hook"}, "target", "full http(s) URL"),
        ({"target": "http://169.254.169.254/latest/"}, "target", "metadata address"),
        ({"events": []}, "events", "Choose at least one job or account event"),
        ({"unreachable_minutes": "0"}, "unreachable_minutes", "greater than or equal to 1"),
        ({"rate_limited_minutes": "soon"}, "rate_limited_minutes", "Enter a whole number"),
        ({"account_events": ["recovered"]}, "account_events", "Select a valid choice"),
    ],
)
def test_invalid_rules_are_refused_in_place(operator_client, receiver, overrides, field, message):
    response = csrf_post(
        operator_client, reverse("alert-rule-create"), _form(receiver, **overrides)
    )

    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert not AlertRule.objects.exists()
    page = response.content.decode()
    assert SECRET not in page and 'value="Failures on VOD"' in page  # kept what was typed


def test_a_duplicate_name_is_refused_with_a_form_error(operator_client, operator, receiver, rule):
    for name in ("Render farm", "render FARM ", "Render farm"):
        response = csrf_post(
            operator_client, reverse("alert-rule-create"), _form(receiver, name=name)
        )
        assert response.status_code == 200, name
        errors = " ".join(response.context["form"].errors["name"])
        assert "already an alert rule named" in errors
        assert "already an alert rule named" in response.content.decode()
    assert AlertRule.objects.filter(owner=operator).count() == 1

    other = make_rule(operator, "email", "ops@example.com", name="Nightly")
    response = csrf_post(
        operator_client,
        reverse("alert-rule-edit", args=[other.code]),
        _form(receiver, name="Render farm"),
    )
    assert response.status_code == 200 and "name" in response.context["form"].errors
    other.refresh_from_db()
    assert other.name == "Nightly"
    # Saving a rule under its own name, or a new one, is fine.
    assert (
        csrf_post(
            operator_client,
            reverse("alert-rule-edit", args=[rule.code]),
            _form(receiver, name="Render farm"),
        ).status_code
        == 302
    )
    assert (
        csrf_post(
            operator_client, reverse("alert-rule-create"), _form(receiver, name="Render farm 2")
        ).status_code
        == 302
    )


def test_another_owner_may_reuse_a_name(rule, receiver, django_user_model):
    other = django_user_model.objects.create_user("otto", password="pw-otto")
    other.groups.add(Group.objects.get(name=OPERATORS))
    client = Client(enforce_csrf_checks=True)
    client.force_login(other)
    response = csrf_post(client, reverse("alert-rule-create"), _form(receiver, name="Render farm"))
    assert response.status_code == 302
    assert AlertRule.objects.filter(name="Render farm").count() == 2


def test_the_database_refuses_a_duplicate_name_per_owner(operator, rule):
    with pytest.raises(IntegrityError), transaction.atomic():
        make_rule(operator, "email", "ops@example.com", name="RENDER FARM")


@pytest.mark.django_db(transaction=True)
def test_the_migration_renames_rules_that_already_share_a_name(operator):
    before = [("jobs", "0005_search_indexes")]
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes("jobs")
    executor.migrate(before)
    old_rule = executor.loader.project_state(before).apps.get_model("jobs", "AlertRule")
    for name in ("Failures", "failures", "Failures", "Failures (2)", "Other"):
        old_rule.objects.create(
            owner_id=operator.pk, name=name, channel="email", target="a@example.com", events=[]
        )
    MigrationExecutor(connection).migrate(latest)
    assert list(AlertRule.objects.order_by("id").values_list("name", flat=True)) == [
        "Failures",
        "failures (3)",
        "Failures (4)",
        "Failures (2)",
        "Other",
    ]


def test_post_without_csrf_token_is_refused(operator_client, receiver, rule):
    assert (
        csrf_post(
            operator_client, reverse("alert-rule-create"), _form(receiver), token=False
        ).status_code
        == 403
    )
    assert (
        csrf_post(
            operator_client, reverse("alert-rule-test", args=[rule.code]), token=False
        ).status_code
        == 403
    )
    assert not AlertDelivery.objects.exists()


def test_delete_asks_then_deletes(operator_client, rule):
    url = reverse("alert-rule-delete", args=[rule.code])
    assert "Delete alert rule" in operator_client.get(url).content.decode()
    assert AlertRule.objects.filter(pk=rule.pk).exists()

    response = csrf_post(operator_client, url, follow=True)
    assert not AlertRule.objects.filter(pk=rule.pk).exists()
    assert "deleted" in response.content.decode()


# --- send test and deliveries --------------------------------------------------------


def test_send_test_shows_the_outcome(operator_client, rule, receiver):
    response = csrf_post(operator_client, reverse("alert-rule-test", args=[rule.code]), follow=True)

    page = response.content.decode()
    assert "Test message sent to Webhook (JSON, HMAC-signed)" in page and "(HTTP 200)" in page
    assert "/hook" not in page  # the list shows the host only
    (request,) = receiver.requests
    assert request.json()["event"] == "test"
    delivery = AlertDelivery.objects.get()
    assert delivery.kind == "test" and delivery.status == AlertDelivery.Status.SENT
    assert _badge("succeeded", "✓", "Sent") in page  # and the rule's row shows it


def test_a_failed_test_says_why(operator_client, rule, receiver):
    receiver.answers = [(502, b"bad gateway")]
    url = reverse("alert-rule-test", args=[rule.code])
    response = csrf_post(operator_client, url, {"back": "deliveries"}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("alert-deliveries", args=[rule.code])
    page = response.content.decode()
    assert "Test message to Webhook (JSON, HMAC-signed)" in page
    assert "answered HTTP 502" in page and _badge("failed", "✕", "Failed") in page


def test_deliveries_page_lists_every_delivery_and_its_outcome(operator_client, rule, receiver, vod):
    account = vod
    first = fail_job(account, "task-1", code="InvalidInput")
    alerts_scan()
    alerts_deliver()
    receiver.default = (500, b"down")
    fail_job(account, "task-2", code="Timeout")
    alerts_scan()
    alerts_deliver()

    page = operator_client.get(reverse("alert-deliveries", args=[rule.code])).content.decode()
    assert page.count('id="delivery-') == 2
    assert (
        "Clapboard: job Promo task-1 failed" in page
        and "Clapboard: job Promo task-2 failed" in page
    )
    assert reverse("job-detail", args=[first.code]) in page
    assert (
        _badge("succeeded", "✓", "Sent") in page
        and _badge("paused", "↻", "Retrying") in page
        and "answered HTTP 500" in page
    )


def test_rules_page_empty_state_points_to_create(operator_client):
    page = operator_client.get(reverse("alert-rules")).content.decode()
    assert "No alert rules yet" in page and reverse("alert-rule-create") in page


def test_hostile_job_text_is_escaped_on_the_deliveries_page(operator_client, rule, vod):
    job = fail_job(vod, "x-1", code="<b>E</b>")
    job.name = '<script>alert("x")</script>'
    job.save()
    alerts_scan()

    page = operator_client.get(reverse("alert-deliveries", args=[rule.code])).content.decode()
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert "<b>E</b>" not in page


# --- the target is write-only ----------------------------------------------------------

ROBOT_TOKEN = "dingWriteOnlyToken7c1e"


def test_the_robot_target_is_shown_masked_and_a_blank_keeps_it(operator_client, operator, receiver):
    target = f"{receiver.url}/robot/send?access_token={ROBOT_TOKEN}"
    rule = make_rule(operator, "dingtalk", target, name="Ding")
    url = reverse("alert-rule-edit", args=[rule.code])

    for page_url in (reverse("alert-rules"), url, reverse("alert-deliveries", args=[rule.code])):
        page = operator_client.get(page_url).content.decode()
        assert ROBOT_TOKEN not in page, page_url
    edit = operator_client.get(url).content.decode()
    assert f"Now: {receiver.url}/…" in edit and "Leave blank to keep it" in edit

    data = _form(receiver, name="Ding renamed", channel="dingtalk", target="", secret="")
    assert csrf_post(operator_client, url, data).status_code == 302
    rule.refresh_from_db()
    assert (rule.name, rule.target) == ("Ding renamed", target)

    new_target = f"{receiver.url}/robot/send?access_token=dingReplacedToken0002"
    data = _form(receiver, channel="dingtalk", target=new_target, secret="")
    assert csrf_post(operator_client, url, data).status_code == 302
    rule.refresh_from_db()
    assert rule.target == new_target


def test_a_kept_target_is_still_checked_against_a_new_channel(operator_client, operator, receiver):
    rule = make_rule(operator, "email", "ops@example.com", name="Mail")
    url = reverse("alert-rule-edit", args=[rule.code])
    response = csrf_post(operator_client, url, _form(receiver, channel="webhook", target=""))
    assert response.status_code == 200
    assert "full http(s) URL" in " ".join(response.context["form"].errors["target"])
    rule.refresh_from_db()
    assert (rule.channel, rule.target) == ("email", "ops@example.com")


def test_a_new_rule_needs_a_target(operator_client, receiver):
    response = csrf_post(operator_client, reverse("alert-rule-create"), _form(receiver, target=""))
    assert response.status_code == 200
    assert "This field is required" in " ".join(response.context["form"].errors["target"])
    assert not AlertRule.objects.exists()
