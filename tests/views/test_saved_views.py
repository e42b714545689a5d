"""Saved views: name the list's filters and tab, personal or shared, shown above the tabs;
an alert rule can start from one."""

from __future__ import annotations

import html
import re

import pytest
from django.test import Client
from django.urls import reverse

from jobs.models import Account, Job, SavedView
from tests.csrf import csrf_post

pytestmark = pytest.mark.django_db


def _save(client: Client, query: str, name: str, **extra):
    return csrf_post(client, reverse("saved-view-save"), {"query": query, "name": name, **extra})


@pytest.fixture
def ci(db) -> Account:
    account = Account.objects.create(name="ci-prod", provider="tencent_ci", credentials={})
    for i, state in enumerate(["failed", "failed", "succeeded", "running"]):
        Job.objects.create(account=account, external_id=f"ci-{i}", state=state, kind="voice")
    return account


def _view_links(page: str) -> list[str]:
    nav = re.search(r'<nav aria-label="Saved views">(.*?)</nav>', page, re.S)
    names = re.findall(r'<a href="[^"]*"[^>]*>([^<]+)</a>', nav.group(1)) if nav else []
    return [html.unescape(name) for name in names if name != "alert…"]


def test_saving_keeps_the_filters_and_tab_and_opens_them(operator_client, ci):
    query = f"provider=tencent_ci&state=failed&after=123_4&v=tok&junk=1&account={ci.code}"
    response = _save(operator_client, query, "  CI   failures ")
    view = SavedView.objects.get()
    # Canonical: the list's own parameters, sorted; no paging, poll token or junk.
    assert view.name == "CI failures"
    assert view.query == f"account={ci.code}&provider=tencent_ci&state=failed"
    assert response["Location"] == reverse("job-list") + "?" + view.query
    page = operator_client.get(response["Location"]).content.decode()
    assert _view_links(page)[0] == "CI failures"
    assert 'aria-current="true" class="current">CI failures' in page
    assert len(re.findall(r'<tr id="job-', page)) == 2  # the two failed jobs


def test_views_are_personal_unless_shared_and_only_operators_share(
    operator_client, viewer_client, ci
):
    _save(operator_client, "state=failed", "Mine")
    _save(operator_client, "state=running", "Everyone's", shared="on")
    _save(viewer_client, "state=succeeded", "Viewer's", shared="on")
    assert not SavedView.objects.get(name="Viewer's").shared  # viewers cannot share
    viewer_page = viewer_client.get(reverse("job-list")).content.decode()
    assert _view_links(viewer_page) == ["Viewer's", "Everyone's"]
    operator_page = operator_client.get(reverse("job-list")).content.decode()
    assert _view_links(operator_page)[:2] == ["Everyone's", "Mine"]


def test_bad_names_and_filters_are_refused_with_a_message(operator_client, ci):
    _save(operator_client, "state=failed", "Dup")
    for query, name in (("state=failed", "dup"), ("state=failed", "   "), ("state=nope", "Bad")):
        response = _save(operator_client, query, name)
        assert response.status_code == 302
    assert list(SavedView.objects.values_list("name", flat=True)) == ["Dup"]
    page = operator_client.get(reverse("job-list")).content.decode()
    assert "Not saved" in page


def test_only_the_owner_or_staff_delete_a_view(operator_client, viewer_client, staff_client, ci):
    _save(operator_client, "state=running", "Shared", shared="on")
    view = SavedView.objects.get()
    url = reverse("saved-view-delete", args=[view.code])
    assert csrf_post(viewer_client, url, {}).status_code == 404
    assert viewer_client.get(url).status_code == 405  # nothing happens on a GET
    assert SavedView.objects.exists()
    assert csrf_post(staff_client, url, {}).status_code == 302
    assert not SavedView.objects.exists()


def test_an_alert_rule_starts_from_a_saved_view(operator_client, ci):
    _save(operator_client, f"provider=tencent_ci&account={ci.code}&state=failed&kind=voice", "CI")
    view = SavedView.objects.get()
    page = operator_client.get(reverse("alert-rule-create"), {"view": view.code}).content.decode()
    assert re.search(r'value="tencent_ci"[^>]*checked', page)
    assert re.search(rf'<option value="{ci.code}" selected>', page)
    assert re.search(r'value="failed"[^>]*checked', page)
    assert 'name="kinds" value="voice"' in page and 'value="CI"' in page
    # Someone else's unshared view is not read; a bad code is ignored.
    for code in ("not-a-uuid", "00000000-0000-0000-0000-000000000000"):
        response = operator_client.get(reverse("alert-rule-create"), {"view": code})
        assert response.status_code == 200


def test_the_api_lists_and_saves_views(operator, viewer, ci):
    from jobs.services.api_tokens import api_token_create

    _, token = api_token_create(user=operator, name="views")
    _, viewer_token = api_token_create(user=viewer, name="views")
    api = Client()

    def save(bearer, body):
        return api.post(
            "/api/v1/views",
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {bearer}",
        )

    created = save(
        token,
        {
            "name": "Failed CI",
            "filters": {"state": "failed", "provider": "tencent_ci"},
            "shared": True,
        },
    )
    assert created.status_code == 201, created.content
    assert created.json()["query"] == "provider=tencent_ci&state=failed"
    assert save(token, {"name": "x", "filters": {"state": "nope"}}).status_code == 400
    assert save(token, {"name": "x", "filters": {"after": "1_2"}}).status_code == 400
    assert save(viewer_token, {"name": "y", "shared": True}).status_code == 403
    assert save(viewer_token, {"name": "Mine", "filters": {}}).status_code == 201
    listed = api.get("/api/v1/views", HTTP_AUTHORIZATION=f"Bearer {viewer_token}").json()
    assert [(v["name"], v["owner"]) for v in listed["views"]] == [
        ("Mine", "victor"),
        ("Failed CI", "olivia"),
    ]


def test_control_characters_in_a_name_are_refused_not_a_500(operator_client, operator, ci):
    response = _save(operator_client, "state=failed", "bad\x00name")
    assert response.status_code == 302 and not SavedView.objects.exists()
    from jobs.services.api_tokens import api_token_create

    _, token = api_token_create(user=operator, name="t")
    api = Client()
    bad = api.post(
        "/api/v1/views",
        {"name": "x\x00y"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert bad.status_code == 400
    audit = api.get("/api/v1/audit", {"user": "a\x00b"}, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert audit.status_code == 400
