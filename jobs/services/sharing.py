"""Share links: read-only access to one job for people without an account.

A token is 256 random bits, shown once; only its SHA-256 is stored. Failed lookups are
counted per client IP so guessing tokens is throttled long before it could succeed.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import F
from django.utils import timezone

from jobs import ratelimit
from jobs.models import Job, ShareLink
from jobs.services.audit import Action, Outcome, Via, audit_record
from jobs.services.errors import InvalidInput
from jobs.services.hashed_tokens import row_for_token, token_hash

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

SHARE_EXPIRY_DAYS = (1, 7, 30)
SHARE_DEFAULT_DAYS = 7
# token_urlsafe(32) is 43 characters; anything far from that shape is not worth hashing.
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{20,100}")

SHARE_FAILURE_LIMIT = 20
SHARE_FAILURE_WINDOW = timedelta(minutes=5)


def share_create(
    *, job: Job, user: User | None, days: int = SHARE_DEFAULT_DAYS, via: str = Via.WEB
) -> tuple[ShareLink, str]:
    """Create a share link for `job` valid for `days` days.

    Returns the link and the raw token; the token is not stored anywhere and cannot be
    recovered. Raises InvalidInput for an expiry outside SHARE_EXPIRY_DAYS.
    """
    if days not in SHARE_EXPIRY_DAYS:
        choices = ", ".join(str(choice) for choice in SHARE_EXPIRY_DAYS)
        raise InvalidInput(f"a share link expires after {choices} days, not {days!r}")
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    link = ShareLink.objects.create(
        job=job,
        token_hash=token_hash(token),
        created_by=user,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    logger.info("share link %s created for job %s by %s", link.code, job.code, user)
    audit_record(
        user=user,
        via=via,
        action=Action.SHARE_CREATE,
        outcome=Outcome.DONE,
        summary=f"Share link for {job.display_name}, valid {days} days",
        account=job.account,
        jobs=[job],
        detail={"link": str(link.code), "expires_at": link.expires_at.isoformat()},
    )
    return link, token


def share_revoke(*, link: ShareLink, user: AbstractBaseUser | None, via: str = Via.WEB) -> bool:
    """Revoke `link` from now on. Returns False if it was already revoked (a no-op)."""
    now = timezone.now()
    revoked = ShareLink.objects.filter(pk=link.pk, revoked_at__isnull=True).update(revoked_at=now)
    if revoked:
        link.revoked_at = now
        logger.info("share link %s revoked by %s", link.code, user)
        audit_record(
            user=user,
            via=via,
            action=Action.SHARE_REVOKE,
            outcome=Outcome.DONE,
            summary=f"Share link for {link.job.display_name} revoked",
            account=link.job.account,
            jobs=[link.job_id],
            detail={"link": str(link.code)},
        )
    return bool(revoked)


def share_resolve(
    token: str, now: datetime | None = None, *, count_use: bool = True
) -> ShareLink | None:
    """The usable link behind `token` (with its job loaded), or None.

    Unknown, malformed, expired and revoked tokens all give None, so callers cannot tell
    them apart. A hit counts one use and records its time, unless `count_use` is False
    (an open page's own polls are not new uses).
    """
    now = now or timezone.now()
    link = row_for_token(ShareLink.objects.select_related("job"), token, _TOKEN_SHAPE)
    if link is None:
        return None
    if not link.is_usable(now):
        return None
    if not count_use:
        return link
    ShareLink.objects.filter(pk=link.pk).update(use_count=F("use_count") + 1, last_used_at=now)
    link.use_count += 1
    link.last_used_at = now
    return link


# --- throttling failed lookups per client IP ---------------------------------------------
# Only failures count, and only after the lookup: a valid token always opens, so nobody's
# guessing (or a proxy that gives every visitor one address) can lock a real link out.
# Windows are fixed on the clock and counted in the store every web process shares. The
# IP is REMOTE_ADDR, or the proxy's header named by CLAPBOARD_CLIENT_IP_HEADER; otherwise
# all visitors behind a proxy share one budget (for bad tokens only).


def share_failure_hit(client_ip: str) -> int | None:
    """Count one failed lookup from `client_ip`. Returns None while within
    SHARE_FAILURE_LIMIT for the window, else the seconds until it ends."""
    return ratelimit.rate_hit(
        "share-failures",
        client_ip,
        limit=SHARE_FAILURE_LIMIT,
        window=int(SHARE_FAILURE_WINDOW.total_seconds()),
    )
