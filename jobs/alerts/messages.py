"""What an alert says: the payload stored on a delivery, and the message each channel
renders from it (plain text, chat markdown, the webhook's JSON).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse

from jobs import http
from jobs.alerts.events import EVENT_LABELS, RECOVERED, TERMINAL_EVENTS
from jobs.models import AccountEpisode, AlertDelivery, AlertNotice, AlertRule

DIGEST_EXAMPLES = 10
MESSAGE_CHARS = 200  # of a provider's failure message in an alert


def _absolute(path: str) -> str:
    base = getattr(settings, "CLAPBOARD_BASE_URL", "") or ""
    return base.rstrip("/") + path if base else path


def one_line(text: str, limit: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _job_facts(notice: AlertNotice) -> dict[str, Any]:
    job = notice.job
    if job is None:
        raise ValueError(f"notice {notice.pk} is an account's, not a job's")
    return {
        "event": notice.event,
        "code": str(job.code),
        "external_id": job.external_id,
        "name": job.name,
        "kind": job.kind,
        "provider": job.account.provider,
        "provider_label": job.account.provider_label,
        "account": job.account.name,
        "state": job.state,
        "failure_code": job.failure_code,
        "failure_message": one_line(job.failure_message, MESSAGE_CHARS),
        "url": _absolute(reverse("job-detail", args=[job.code])),
    }


def _list_url(rule: AlertRule, events: set[str]) -> str:
    params: dict[str, str] = {}
    if len(events) == 1 and (event := next(iter(events))) in TERMINAL_EVENTS:
        params["state"] = event
    if len(rule.providers) == 1:
        params["provider"] = rule.providers[0]
    accounts = list(rule.accounts.all())
    if len(accounts) == 1:
        params["account"] = str(accounts[0].code)
    if len(rule.kinds) == 1:
        params["kind"] = rule.kinds[0]
    return _absolute(reverse("job-list") + ("?" + urlencode(params) if params else ""))


def _title(events: Counter[str], count: int, first: dict[str, Any], rule: AlertRule) -> str:
    if count == 1:
        name = one_line(first["name"] or first["external_id"], 80)
        if first["event"] == "stuck":
            return f"Clapboard: job {name} has not moved for {rule.stuck_minutes} min"
        return f"Clapboard: job {name} {first['event']}"
    if len(events) == 1:
        event = next(iter(events))
        verb = f"not moving for {rule.stuck_minutes} min" if event == "stuck" else event
        return f"Clapboard: {count} jobs {verb}"
    return (
        f"Clapboard: {count} job alerts ("
        + ", ".join(f"{n} {event}" for event, n in events.most_common())
        + ")"
    )


def _utc(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else ""


def _episode(notice: AlertNotice) -> AccountEpisode:
    if notice.episode is None:
        raise ValueError(f"notice {notice.pk} is a job's, not an account's")
    return notice.episode


def _account_facts(notice: AlertNotice) -> dict[str, Any]:
    episode = _episode(notice)
    account = episode.account
    # Provider messages are built without secrets (ProviderError); redacting the
    # account's own credentials again costs nothing and holds if an adapter slips.
    credentials = [str(v) for v in (account.credentials or {}).values()]
    return {
        "event": notice.event,
        "episode": episode.kind,
        "episode_label": EVENT_LABELS.get(episode.kind, episode.kind).split(" (")[0],
        "code": str(account.code),
        "account": account.name,
        "provider": account.provider,
        "provider_label": account.provider_label,
        "since": episode.started_at.isoformat(),
        "ended_at": episode.ended_at.isoformat() if episode.ended_at else None,
        "consecutive_failures": account.consecutive_failures,
        "last_error": one_line(http.redact(account.last_error, credentials), MESSAGE_CHARS),
        "last_error_at": account.last_error_at.isoformat() if account.last_error_at else None,
        "url": _absolute(reverse("account-health") + f"#account-{account.code}"),
    }


def _account_title(notice: AlertNotice) -> str:
    episode = _episode(notice)
    name = one_line(episode.account.name, 80)
    since = _utc(episode.started_at)
    what: dict[str, str] = {
        AccountEpisode.Kind.CREDENTIALS: "credentials rejected",
        AccountEpisode.Kind.UNREACHABLE: "provider unreachable",
        AccountEpisode.Kind.RATE_LIMITED: "rate-limited",
        AccountEpisode.Kind.DISCOVERY: "discovery failing",
    }
    what_happened = what.get(episode.kind, episode.kind)
    if notice.event == RECOVERED:
        return f"Clapboard: account {name} recovered ({what_happened} since {since})"
    return f"Clapboard: account {name}: {what_happened} since {since}"


def account_payload(rule: AlertRule, notice: AlertNotice, now: datetime) -> dict[str, Any]:
    """What every channel says about one account notice: which account, what, since
    when, the last error and a link to the account on the accounts page."""
    return {
        "event": notice.event,
        "digest": False,
        "title": _account_title(notice),
        "rule": {"code": str(rule.code), "name": rule.name},
        "count": 1,
        "summary": {},
        "jobs": [],
        "accounts": [_account_facts(notice)],
        "list_url": _absolute(reverse("account-health")),
        "created_at": now.isoformat(),
    }


def alert_payload(
    rule: AlertRule, notices: list[AlertNotice], now: datetime, *, digest: bool
) -> dict[str, Any]:
    """What every channel says about these notices, as stored on the delivery (and sent
    as is by the generic webhook). An account notice goes alone."""
    if notices[0].episode_id is not None:
        return account_payload(rule, notices[0], now)
    jobs = [_job_facts(n) for n in notices]
    events = Counter(job["event"] for job in jobs)
    failure_codes = Counter(job["failure_code"] or "—" for job in jobs if job["event"] == "failed")
    return {
        "event": next(iter(events)) if len(events) == 1 else "mixed",
        "digest": digest,
        "title": _title(events, len(jobs), jobs[0], rule),
        "rule": {"code": str(rule.code), "name": rule.name},
        "count": len(jobs),
        "summary": {
            "events": dict(events.most_common()),
            "providers": dict(Counter(job["provider_label"] for job in jobs).most_common()),
            "failure_codes": dict(failure_codes.most_common(10)),
        },
        "jobs": jobs[:DIGEST_EXAMPLES] if digest else jobs,
        "list_url": _list_url(rule, set(events)),
        "created_at": now.isoformat(),
    }


def rule_test_payload(rule: AlertRule, now: datetime) -> dict[str, Any]:
    return {
        "event": "test",
        "digest": False,
        "title": f"Clapboard: test message for rule {one_line(rule.name, 80)}",
        "rule": {"code": str(rule.code), "name": rule.name},
        "count": 0,
        "summary": {},
        "jobs": [],
        "list_url": _absolute(reverse("job-list")),
        "created_at": now.isoformat(),
    }


@dataclass(frozen=True)
class Message:
    title: str
    text: str  # email, Feishu
    markdown: str  # WeCom, DingTalk
    body: dict[str, Any]  # the generic webhook's JSON


def _md(text: str) -> str:
    # Provider text must not turn into links, mentions or markup in a robot's chat.
    table = str.maketrans({"[": "(", "]": ")", "<": "‹", ">": "›", "`": "'", "*": "·"})
    return str(text).translate(table)


def _md_link(label: str, url: str) -> str:
    if url.startswith(("http://", "https://")):
        return f"[{_md(label)}]({url})"
    return f"{_md(label)}: {url}"  # a relative link is useless in a chat: show the path


def _counts(counts: dict[str, int]) -> str:
    # Most first: PostgreSQL's jsonb does not keep the order the dict was stored in.
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ", ".join(f"{name} {n}" for name, n in ordered)


def _account_lines(account: dict[str, Any], text: list[str], markdown: list[str]) -> None:
    where = f"{account['provider_label']} account {account['account']}"
    since = _utc(datetime.fromisoformat(account["since"]))
    if account["event"] == RECOVERED:
        ended = account.get("ended_at")
        until = _utc(datetime.fromisoformat(ended)) if ended else ""
        what = f"answers again at {until} ({account['episode_label'].lower()} since {since})"
    else:
        what = f"{account['episode_label'].lower()} since {since}"
        if account.get("consecutive_failures"):
            what += f", {account['consecutive_failures']} failed requests in a row"
    text.append(f"• {where}: {what}")
    link = _md_link(account["account"], account["url"])
    markdown.append(f"- **{link}** · {_md(account['provider_label'])} · {_md(what)}")
    if account.get("last_error"):
        text.append(f"  Last error: {account['last_error']}")
        markdown.append(f"  > Last error: {_md(account['last_error'])}")
    text.append(f"  {account['url']}")


def build_message(delivery: AlertDelivery, *, now: datetime) -> Message:
    payload = delivery.payload
    title = one_line(payload.get("title", "Clapboard alert"), 200)
    rule_name = payload.get("rule", {}).get("name", "")
    jobs = payload.get("jobs", [])
    more = payload.get("count", 0) - len(jobs)
    summary = payload.get("summary", {})
    text = [title, f"Rule: {rule_name}", ""]
    markdown = [f"### {_md(title)}", f"Rule: **{_md(rule_name)}**", ""]
    if payload.get("event") == "test":
        line = "This is a test message. If you can read it, alerts of this rule reach you."
        text.append(line)
        markdown.append(line)
    for job in jobs:
        name = job["name"] or job["external_id"]
        where = " · ".join(filter(None, [job["provider_label"], job["account"], job["kind"]]))
        failure = ""
        if job["event"] == "failed":
            failure = " — ".join(filter(None, [job["failure_code"], job["failure_message"]]))
        text.append(f"• {name} ({where}): {job['event']}")
        if failure:
            text.append(f"  {failure}")
        text.append(f"  {job['url']}")
        markdown.append(f"- **{_md_link(name, job['url'])}** · {_md(where)} · {job['event']}")
        if failure:
            markdown.append(f"  > {_md(failure)}")
    for account in payload.get("accounts", []):
        _account_lines(account, text, markdown)
    if more > 0:
        text.append(f"… and {more} more")
        markdown.append(f"… and {more} more")
    if payload.get("digest"):
        for label, key in (("By provider", "providers"), ("By failure code", "failure_codes")):
            if summary.get(key):
                text.append(f"{label}: {_counts(summary[key])}")
                markdown.append(f"{label}: {_md(_counts(summary[key]))}")
    list_url = payload.get("list_url", "")
    if payload.get("accounts"):
        text += ["", f"Accounts: {list_url}"]
        markdown += ["", _md_link("Open the accounts page", list_url)]
    else:
        text += ["", f"Job list: {list_url}"]
        markdown += ["", _md_link("Open the job list", list_url)]
    body = {
        **payload,
        "delivery": delivery.pk,
        "kind": delivery.kind,
        "timestamp": int(now.timestamp()),
    }
    return Message(title=title, text="\n".join(text), markdown="\n\n".join(markdown), body=body)
