"""Share links: the operator's panel, the public page, and what neither may leak."""

from __future__ import annotations

import hashlib
import html
import re
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from django.conf import settings
from django.core.cache import cache
from django.db.models import F
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from jobs.models import Account, Job, ShareLink
from jobs.services.sharing import SHARE_FAILURE_LIMIT, share_create, share_resolve, share_revoke
from tests.csrf import csrf_post

PUBLIC_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex",
    "Cache-Control": "private, no-store",
}
URL_TOKEN = re.compile(r"http://testserver/s/([A-Za-z0-9_-]+)/")
RAW_MARKER = "raw-payload-marker-7731"
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _fresh_throttle():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def ivh(accounts) -> Account:
    return accounts["tencent_ivh"]


@pytest.fixture
def job(ivh) -> Job:
    return Job.objects.create(
        account=ivh,
        external_id="ivh-task-0042-internal",
        kind="videomaker",
        name="Evening news promo",
        state="succeeded",
        provider_state="COMMIT",
        progress=100,
        media_url="https://cdn.example.com/out/promo.mp4",
        created_at=T0,
        started_at=T0 + timedelta(minutes=1),
        finished_at=T0 + timedelta(minutes=4),
        words=[{"text": "welcome back", "words": [["welcome", 0, 360], ["back", 400, 700]]}],
        subtitles="1\n00:00:01,200 --> 00:00:03,400\nhello there\n",
        raw={"Payload": {"Marker": RAW_MARKER}},
    )


def _create(client: Client, job: Job, days: int = 7) -> str:
    response = csrf_post(client, reverse("share-links", args=[job.code]), {"days": days}, htmx=True)
    assert response.status_code == 200
    return URL_TOKEN.search(response.content.decode()).group(1)


def _open(token: str, ip: str = "192.0.2.10"):
    return Client().get(reverse("shared-job", args=[token]), REMOTE_ADDR=ip)


# --- the operator's panel --------------------------------------------------------------


def test_panel_offers_one_seven_and_thirty_days_with_seven_preselected(job, operator_client):
    response = operator_client.get(
        reverse("share-links", args=[job.code]), headers={"HX-Request": "true"}
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in page  # the partial
    assert re.search(r'<option value="7" selected>', page)
    assert {"1", "7", "30"} == set(re.findall(r'<option value="(\d+)"', page))
    assert "No share links yet" in page


@pytest.mark.parametrize("days", [1, 7, 30])
def test_operator_creates_a_link_with_the_chosen_expiry(job, operator, operator_client, days):
    before = datetime.now(UTC)
    token = _create(operator_client, job, days)
    link = ShareLink.objects.get()
    assert link.job == job and link.created_by == operator
    assert before <= link.created_at <= datetime.now(UTC)
    assert link.expires_at - link.created_at == timedelta(days=days)
    assert _open(token).status_code == 200


def test_service_default_is_seven_days_and_tokens_carry_256_bits(job, operator):
    link, token = share_create(job=job, user=operator)
    assert link.expires_at - link.created_at == timedelta(days=7)
    assert len(token) == 43  # token_urlsafe(32): 32 random bytes
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()


def test_an_expiry_outside_the_choices_is_refused(job, operator_client):
    response = csrf_post(
        operator_client, reverse("share-links", args=[job.code]), {"days": 3}, htmx=True
    )
    assert response.status_code == 200
    assert 'class="error"' in response.content.decode()
    assert not ShareLink.objects.exists()


def test_the_url_is_shown_once_and_never_stored(job, operator_client):
    url = reverse("share-links", args=[job.code])
    response = csrf_post(operator_client, url, {"days": 7}, htmx=True)
    page = response.content.decode()
    token = URL_TOKEN.search(page).group(1)
    assert f'data-copy="http://testserver/s/{token}/"' in page
    assert "no-store" in response["Cache-Control"]

    for later in (
        operator_client.get(url),
        operator_client.get(url, headers={"HX-Request": "true"}),
        operator_client.get(reverse("job-detail", args=[job.code])),
    ):
        assert token not in later.content.decode()
    stored = ShareLink.objects.values().get()
    assert token not in repr(stored)
    assert stored["token_hash"] == hashlib.sha256(token.encode()).hexdigest()


def test_a_full_page_post_renders_the_panel_inside_the_dashboard(job, operator_client):
    response = csrf_post(operator_client, reverse("share-links", args=[job.code]), {"days": 1})
    page = response.content.decode()
    assert response.status_code == 200
    assert "<html" in page and "Log out" in page
    assert URL_TOKEN.search(page)


def test_panel_lists_links_with_creator_and_use(job, operator_client):
    token = _create(operator_client, job)
    _open(token)
    _open(token)
    page = operator_client.get(reverse("share-links", args=[job.code])).content.decode()
    assert "olivia" in page
    assert re.search(r'<td [^>]*class="num"[^>]*>2</td>', page)  # two uses
    assert "active" in page and "Revoke" in page


def test_operator_revokes_a_link(job, operator_client):
    token = _create(operator_client, job)
    link = ShareLink.objects.get()
    revoke = reverse("share-revoke", args=[job.code, link.code])

    response = csrf_post(operator_client, revoke, htmx=True)
    assert response.status_code == 200
    assert "revoked" in response.content.decode()
    link.refresh_from_db()
    assert link.revoked_at is not None
    assert _open(token).status_code == 404

    # Without HTMX the browser goes back to the job page; a second revoke is harmless.
    response = csrf_post(operator_client, revoke)
    assert response.status_code == 302
    assert response["Location"] == reverse("job-detail", args=[job.code]) + "#share-panel"


def test_revoking_a_link_through_another_job_is_404(job, ivh, operator, operator_client):
    other = Job.objects.create(account=ivh, external_id="other-task")
    link, _ = share_create(job=other, user=operator)
    response = csrf_post(operator_client, reverse("share-revoke", args=[job.code, link.code]))
    assert response.status_code == 404
    link.refresh_from_db()
    assert link.revoked_at is None


def test_unknown_job_is_404(db, operator_client):
    import uuid

    assert operator_client.get(reverse("share-links", args=[uuid.uuid4()])).status_code == 404


# --- who may do it ---------------------------------------------------------------------


@pytest.mark.parametrize("client_fixture", ["viewer_client", "outsider_client"])
def test_viewers_and_outsiders_can_neither_see_nor_use_the_panel(
    request, job, operator, client_fixture
):
    client = request.getfixturevalue(client_fixture)
    link, _ = share_create(job=job, user=operator)
    panel = reverse("share-links", args=[job.code])
    assert client.get(panel).status_code == 403
    assert client.get(panel, headers={"HX-Request": "true"}).status_code == 403
    assert csrf_post(client, panel, {"days": 7}).status_code == 403
    assert csrf_post(client, panel, {"days": 7}, htmx=True).status_code == 403
    assert csrf_post(client, reverse("share-revoke", args=[job.code, link.code])).status_code == 403
    assert ShareLink.objects.count() == 1
    link.refresh_from_db()
    assert link.revoked_at is None


def test_viewers_see_no_share_button_on_the_job_page(job, viewer_client):
    page = viewer_client.get(reverse("job-detail", args=[job.code])).content.decode()
    assert reverse("share-links", args=[job.code]) not in page


def test_anonymous_is_sent_to_login_for_the_panel(job):
    panel = reverse("share-links", args=[job.code])
    response = Client().get(panel)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={panel}"


def test_posts_without_a_csrf_token_are_refused(job, operator, operator_client):
    link, _ = share_create(job=job, user=operator)
    panel = reverse("share-links", args=[job.code])
    revoke = reverse("share-revoke", args=[job.code, link.code])
    assert csrf_post(operator_client, panel, {"days": 7}, token=False).status_code == 403
    assert csrf_post(operator_client, revoke, token=False, htmx=True).status_code == 403
    assert ShareLink.objects.count() == 1
    link.refresh_from_db()
    assert link.revoked_at is None


# --- the public page -------------------------------------------------------------------


def test_public_page_shows_the_public_facts(job, operator):
    _, token = share_create(job=job, user=operator)
    response = _open(token)
    page = response.content.decode()
    assert response.status_code == 200
    assert "Evening news promo" in page
    assert "Succeeded" in page and "state-succeeded" in page
    assert 'value="100"' in page  # progress
    assert 'datetime="2030-01-01T12:00:00+00:00"' in page
    assert "2030-01-01 12:04:00 UTC" in page
    assert (
        '<video id="job-media" controls preload="metadata" src="https://cdn.example.com/out/promo.mp4"'
        in page
    )
    assert (
        '<button type="button" class="cue" data-start="1200" data-end="3400">'
        "<time>00:01.2</time> hello there</button>"
    ) in page
    # The word timings ride as JSON for player.js, the sentences as plain text without it.
    assert '<script type="application/json">[[["welcome", 0, 360]' in page
    assert '["back", 400, 700]]]</script>' in page
    assert '<p class="sentence">' in page and 'class="word"' not in page
    assert 'name="viewport"' in page


def test_public_page_leaks_no_account_credentials_payload_or_dashboard_links(job, ivh, operator):
    assert ivh.credentials["access_token"]  # the simulator's demo secret is planted
    _, token = share_create(job=job, user=operator)
    page = _open(token).content.decode()
    for secret in (
        ivh.credentials["access_token"],
        ivh.credentials["appkey"],
        ivh.masked_id,
        ivh.name,
        ivh.provider_label,
        job.external_id,
        job.provider_state,
        RAW_MARKER,
        "olivia",
    ):
        assert secret not in page
    for prefix in ("/jobs/", "/admin/", "/accounts/", "/track/", "/login/"):
        assert prefix not in page
    assert "<form" not in page
    hrefs = re.findall(r'href="([^"]*)"', page)
    assert hrefs and all(
        href.startswith(settings.STATIC_URL)
        or href.startswith("/" + settings.STATIC_URL)
        or href.startswith(f"/s/{token}/")  # the link's own downloads
        for href in hrefs
    )


def test_public_page_shows_a_failure_as_escaped_text(job, operator):
    Job.objects.filter(pk=job.pk).update(
        state="failed",
        failure_code="900001",
        failure_message="<script>alert(1)</script> rendering failed",
        media_url="",
        name="",
    )
    _, token = share_create(job=job, user=operator)
    page = _open(token).content.decode()
    assert "Failed" in page and "900001" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; rendering failed" in page
    assert "<script>alert" not in page
    assert "videomaker job" in page  # no name: the kind stands in
    assert "<video" not in page


def test_headers_on_found_not_found_and_throttled(job, operator):
    _, token = share_create(job=job, user=operator)
    responses = [_open(token), _open("no-such-token-at-all-000000")]
    for _ in range(SHARE_FAILURE_LIMIT):
        _open("wrong-token-xxxxxxxxxxxxxxxxxxxx", ip="198.51.100.1")
    responses.append(_open("wrong-token-xxxxxxxxxxxxxxxxxxxx", ip="198.51.100.1"))
    assert [r.status_code for r in responses] == [200, 404, 429]
    for response in responses:
        for header, value in PUBLIC_HEADERS.items():
            assert response[header] == value


def test_use_count_and_last_use_are_recorded(job, operator, time_machine):
    time_machine.move_to(T0, tick=False)
    link, token = share_create(job=job, user=operator)
    time_machine.move_to(T0 + timedelta(hours=2), tick=False)
    assert _open(token).status_code == 200
    assert _open(token).status_code == 200
    link.refresh_from_db()
    assert link.use_count == 2
    assert link.last_used_at == T0 + timedelta(hours=2)


def test_unknown_malformed_expired_and_revoked_tokens_get_the_same_404(job, operator, time_machine):
    time_machine.move_to(T0, tick=False)
    _, expiring = share_create(job=job, user=operator, days=1)
    revoked_link, revoked = share_create(job=job, user=operator)
    share_revoke(link=revoked_link, user=operator)

    time_machine.move_to(T0 + timedelta(days=1) - timedelta(seconds=1), tick=False)
    assert _open(expiring).status_code == 200
    time_machine.move_to(T0 + timedelta(days=1), tick=False)

    responses = [
        _open(secrets.token_urlsafe(32)),
        _open("x"),
        _open("a" * 500),
        _open(expiring),
        _open(revoked),
    ]
    assert {r.status_code for r in responses} == {404}
    assert len({r.content for r in responses}) == 1
    assert "Link not found" in responses[0].content.decode()
    assert share_resolve(expiring, now=T0) is not None  # the clock alone made it expire


def test_a_burst_of_wrong_tokens_is_throttled_per_ip(job, operator, time_machine):
    time_machine.move_to(T0, tick=False)
    _, token = share_create(job=job, user=operator)
    attacker, bystander = "203.0.113.5", "198.51.100.7"

    statuses = [_open(secrets.token_urlsafe(32), ip=attacker).status_code for _ in range(25)]
    assert statuses == [404] * SHARE_FAILURE_LIMIT + [429] * (25 - SHARE_FAILURE_LIMIT)
    # Only failures are throttled: a valid link opens even from the throttled address.
    assert _open(token, ip=attacker).status_code == 200
    assert _open(secrets.token_urlsafe(32), ip=attacker).status_code == 429
    assert _open(secrets.token_urlsafe(32), ip=bystander).status_code == 404
    assert _open(token, ip=bystander).status_code == 200

    time_machine.move_to(T0 + timedelta(minutes=5, seconds=1), tick=False)
    assert _open(secrets.token_urlsafe(32), ip=attacker).status_code == 404


def test_successful_opens_do_not_count_against_the_ip(job, operator):
    _, token = share_create(job=job, user=operator)
    for _ in range(SHARE_FAILURE_LIMIT + 5):
        assert _open(token).status_code == 200
    assert _open(secrets.token_urlsafe(32)).status_code == 404


def test_public_page_is_read_only(job, operator):
    _, token = share_create(job=job, user=operator)
    client = Client()
    assert client.post(reverse("shared-job", args=[token])).status_code == 405
    assert client.head(reverse("shared-job", args=[token])).status_code == 200


def test_a_valid_link_is_never_refused_after_others_failures_behind_one_proxy_address(
    job, operator
):
    # Behind a proxy that hides client addresses every visitor is the same REMOTE_ADDR:
    # one visitor's guessing must not lock out everyone holding a real link.
    _, token = share_create(job=job, user=operator)
    other_job = Job.objects.create(account=job.account, external_id="ivh-other", name="Other")
    _, other_token = share_create(job=other_job, user=operator)
    proxy = "10.0.0.1"
    wrong = [_open(secrets.token_urlsafe(32), ip=proxy).status_code for _ in range(40)]
    assert wrong.count(429) == 40 - SHARE_FAILURE_LIMIT

    for link_token in (token, other_token):
        response = _open(link_token, ip=proxy)
        assert response.status_code == 200 and "Retry-After" not in response
    assert _open("x", ip=proxy).status_code == 429  # failures stay throttled


def test_the_failure_count_is_not_kept_in_process_memory(job, operator):
    # Every web process must see the same count: clearing this process's cache (as a
    # second worker would have its own) does not hand out a fresh budget.
    for _ in range(SHARE_FAILURE_LIMIT):
        assert _open(secrets.token_urlsafe(32), ip="192.0.2.9").status_code == 404
    cache.clear()
    assert _open(secrets.token_urlsafe(32), ip="192.0.2.9").status_code == 429


# --- live updates and downloads for link holders ----------------------------------------


def _poll(token: str, params: dict, ip: str = "192.0.2.10"):
    return Client().get(
        reverse("shared-job", args=[token]), params, REMOTE_ADDR=ip, headers={"HX-Request": "true"}
    )


def _live_params(page: str) -> dict:
    query = html.unescape(re.search(r'hx-get="\?([^"]*)"', page).group(1))
    return dict(part.split("=", 1) for part in query.split("&"))


def test_the_share_page_polls_like_the_job_page(job, operator, simulator):
    Job.objects.filter(pk=job.pk).update(state="running", progress=1, finished_at=None)
    link, token = share_create(job=job, user=operator)
    provider_calls = dict(simulator.requests)
    page = _open(token).content.decode()
    assert 'data-poll="4"' in page
    params = _live_params(page)

    unchanged = _poll(token, params)
    assert unchanged.status_code == 204 and unchanged.content == b""
    assert unchanged["Cache-Control"] == "private, no-store"

    Job.objects.filter(pk=job.pk).update(progress=12, version=F("version") + 1)
    changed = _poll(token, params)
    fragment = changed.content.decode()
    assert changed.status_code == 200
    assert "<html" not in fragment and 'id="job-live"' in fragment
    assert 'value="12"' in fragment and "12 %" in fragment
    assert 'data-poll="4"' in fragment

    Job.objects.filter(pk=job.pk).update(state="succeeded", progress=100, version=F("version") + 1)
    finished = _poll(token, _live_params(fragment))
    assert finished.status_code == 200 and "Succeeded" in finished.content.decode()
    assert "data-poll" not in finished.content.decode()
    assert _poll(token, _live_params(finished.content.decode())).status_code == 286

    link.refresh_from_db()
    assert link.use_count == 1  # the page's own polls are not new uses
    assert simulator.requests == provider_calls  # it reads the database, never the provider


def test_a_polled_share_page_learns_within_one_poll_that_its_status_is_not_current(
    job, operator, ivh
):
    Job.objects.filter(pk=job.pk).update(
        state="running", progress=40, finished_at=None, last_polled_at=timezone.now()
    )
    _, token = share_create(job=job, user=operator)
    page = _open(token).content.decode()
    assert "Not current" not in page
    params = _live_params(page)

    # The provider starts refusing the account's signature; the job itself is unchanged.
    Account.objects.filter(pk=ivh.pk).update(
        consecutive_failures=3,
        last_error="AuthFailure.SignatureFailure: secret 0123abcd rejected",
        last_error_at=timezone.now(),
        retry_at=timezone.now() + timedelta(minutes=5),
    )
    response = _poll(token, params)
    fragment = response.content.decode()
    assert response.status_code == 200 and "Not current" in fragment
    assert "cannot confirm this job" in fragment and "is-stale" in fragment
    # The link holder is not told the account's name or the provider's error text.
    assert ivh.name not in fragment and "SignatureFailure" not in fragment


def test_new_media_on_a_polled_share_page_reloads_it_once(job, operator):
    Job.objects.filter(pk=job.pk).update(
        state="running", progress=50, media_url="", words=[], subtitles=""
    )
    _, token = share_create(job=job, user=operator)
    params = _live_params(_open(token).content.decode())
    Job.objects.filter(pk=job.pk).update(
        state="succeeded",
        media_url="https://cdn.example.com/out/promo.mp4",
        version=F("version") + 1,
    )
    response = _poll(token, params)
    assert response.status_code == 200 and response["HX-Refresh"] == "true"


def test_polls_of_a_revoked_or_unknown_link_get_the_not_found_page(job, operator):
    link, token = share_create(job=job, user=operator)
    params = _live_params(_open(token).content.decode())
    share_revoke(link=link, user=operator)
    not_found = _open(secrets.token_urlsafe(32)).content
    for response in (_poll(token, params), _poll(secrets.token_urlsafe(32), params)):
        assert response.status_code == 404
        assert response.content == not_found
        assert response["HX-Refresh"] == "true"  # the open page reloads into "not found"


def test_link_holders_download_srt_and_vtt(job, operator):
    link, token = share_create(job=job, user=operator)
    page = _open(token).content.decode()
    srt_url = reverse("shared-srt", args=[token])
    words_url = reverse("shared-words-vtt", args=[token])
    track_url = reverse("shared-subtitles-vtt", args=[token])
    assert f'href="{srt_url}" download' in page and f'href="{words_url}" download' in page
    assert f'<track kind="subtitles" label="Subtitles" src="{track_url}" default>' in page

    srt = Client().get(srt_url)
    assert srt.status_code == 200
    assert srt.content.decode() == job.subtitles
    assert srt["Content-Type"] == "application/x-subrip; charset=utf-8"
    assert srt["Content-Disposition"] == 'attachment; filename="Evening news promo.srt"'
    words = Client().get(words_url)
    assert words.status_code == 200
    assert "00:00:00.000 --> 00:00:00.700\nwelcome back" in words.content.decode()
    assert words["Content-Disposition"].startswith("attachment;")
    track = Client().get(track_url)
    assert "00:00:01.200 --> 00:00:03.400\nhello there" in track.content.decode()
    assert track["Content-Disposition"].startswith("inline;")
    for response in (srt, words, track):
        for header, value in PUBLIC_HEADERS.items():
            assert response[header] == value
        # A link holder never learns the provider's task ID, not even from a file name.
        assert job.external_id not in response["Content-Disposition"]
    link.refresh_from_db()
    assert link.use_count == 3  # the page and two downloads; the <track> rides with the page


def test_downloads_of_unknown_expired_and_revoked_links_get_the_not_found_page(
    job, operator, time_machine
):
    time_machine.move_to(T0, tick=False)
    _, expiring = share_create(job=job, user=operator, days=1)
    revoked_link, revoked = share_create(job=job, user=operator)
    share_revoke(link=revoked_link, user=operator)
    time_machine.move_to(T0 + timedelta(days=2), tick=False)
    not_found = _open(secrets.token_urlsafe(32)).content
    assert b"Link not found" in not_found
    for token in (expiring, revoked, secrets.token_urlsafe(32), "x"):
        for name in ("shared-srt", "shared-words-vtt", "shared-subtitles-vtt"):
            response = Client().get(reverse(name, args=[token]), REMOTE_ADDR="192.0.2.99")
            assert response.status_code == 404
            assert response.content == not_found
            assert job.subtitles.encode() not in response.content


def test_download_guesses_count_towards_the_share_throttle(job, operator):
    _, token = share_create(job=job, user=operator)
    guesser = "203.0.113.77"
    for _ in range(SHARE_FAILURE_LIMIT):
        wrong = reverse("shared-srt", args=[secrets.token_urlsafe(32)])
        assert Client().get(wrong, REMOTE_ADDR=guesser).status_code == 404
    assert _open(secrets.token_urlsafe(32), ip=guesser).status_code == 429


def test_downloads_of_a_job_without_timings_are_404(job, operator):
    Job.objects.filter(pk=job.pk).update(subtitles="", words=[])
    _, token = share_create(job=job, user=operator)
    page = _open(token).content.decode()
    assert "Download SRT" not in page and "words.vtt" not in page
    for name in ("shared-srt", "shared-words-vtt", "shared-subtitles-vtt"):
        response = Client().get(reverse(name, args=[token]))
        assert response.status_code == 404
        assert b"Link not found" not in response.content  # the link is fine; the file is not


def test_downloads_are_read_only(job, operator):
    _, token = share_create(job=job, user=operator)
    assert Client().post(reverse("shared-srt", args=[token])).status_code == 405
