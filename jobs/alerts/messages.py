"""What an alert says: the payload stored on a delivery, and the message each channel
renders from it (plain text, chat markdown, the webhook's JSON).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.urls import reverse

from jobs.alerts.events import TERMINAL_EVENTS
from jobs.models import AlertDelivery, AlertNotice, AlertRule

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


def alert_payload(
    rule: AlertRule, notices: list[AlertNotice], now: datetime, *, digest: bool
) -> dict[str, Any]:
    """What every channel says about these notices, as stored on the delivery (and sent
    as is by the generic webhook)."""
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
    if more > 0:
        text.append(f"… and {more} more")
        markdown.append(f"… and {more} more")
    if payload.get("digest"):
        for label, key in (("By provider", "providers"), ("By failure code", "failure_codes")):
            if summary.get(key):
                text.append(f"{label}: {_counts(summary[key])}")
                markdown.append(f"{label}: {_md(_counts(summary[key]))}")
    list_url = payload.get("list_url", "")
    text += ["", f"Job list: {list_url}"]
    markdown += ["", _md_link("Open the job list", list_url)]
    body = {
        **payload,
        "delivery": delivery.pk,
        "kind": delivery.kind,
        "timestamp": int(now.timestamp()),
    }
    return Message(title=title, text="\n".join(text), markdown="\n\n".join(markdown), body=body)
