"""Personal API tokens: created and revoked by their owner, resolved on every API call.

A token is "cb_" plus 256 random bits, shown once; only its SHA-256 is stored, with the
first characters kept as a prefix so a person can tell their tokens apart. Each token has
its own request budget: a fixed one-minute window counted in a store every web process
shares.
"""

from __future__ import annotations

import logging
import re
import secrets
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import Q
from django.utils import timezone

from jobs import ratelimit
from jobs.models import ApiToken
from jobs.services.audit import Action, Outcome, Via, audit_record
from jobs.services.errors import InvalidInput
from jobs.services.hashed_tokens import row_for_token, token_hash

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

TOKEN_PREFIX = "cb_"
PREFIX_LENGTH = 8
# token_urlsafe(32) is 43 characters; anything far from that shape is not worth hashing.
_TOKEN_SHAPE = re.compile(r"cb_[A-Za-z0-9_-]{20,100}")
ACTIVE_TOKENS_PER_USER = 20
# Writing last_used_at on every call would turn each read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)

API_RATE_LIMIT = 600  # requests per token per window
API_RATE_WINDOW = 60  # seconds


def api_token_create(*, user: User, name: str, via: str = Via.WEB) -> tuple[ApiToken, str]:
    """Create a token for `user`. Returns the stored row and the raw token, which is not
    kept anywhere and cannot be recovered.

    Raises InvalidInput for an empty or overlong name, or when the user already has
    ACTIVE_TOKENS_PER_USER unrevoked tokens.
    """
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidInput("a token needs a name of 1 to 100 characters")
    active = ApiToken.objects.filter(user=user, revoked_at__isnull=True).count()
    if active >= ACTIVE_TOKENS_PER_USER:
        raise InvalidInput(
            f"you already have {active} active tokens; revoke one you no longer use first"
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    api_token = ApiToken.objects.create(
        user=user, name=name, token_hash=token_hash(token), prefix=token[:PREFIX_LENGTH]
    )
    logger.info("API token %s (%s) created by %s", api_token.code, api_token.prefix, user)
    audit_record(
        user=user,
        via=via,
        action=Action.TOKEN_CREATE,
        outcome=Outcome.DONE,
        summary=f"API token {name!r} ({api_token.prefix}…)",
        detail={"token": str(api_token.code), "prefix": api_token.prefix},
    )
    return api_token, token


def api_token_revoke(
    *, api_token: ApiToken, user: AbstractBaseUser | None, via: str = Via.WEB
) -> bool:
    """Revoke `api_token` from now on. Returns False if it was already revoked (a no-op)."""
    now = timezone.now()
    revoked = ApiToken.objects.filter(pk=api_token.pk, revoked_at__isnull=True).update(
        revoked_at=now
    )
    if revoked:
        api_token.revoked_at = now
        logger.info("API token %s revoked by %s", api_token.code, user)
        audit_record(
            user=user,
            via=via,
            action=Action.TOKEN_REVOKE,
            outcome=Outcome.DONE,
            summary=f"API token {api_token.name!r} ({api_token.prefix}…) revoked",
            detail={"token": str(api_token.code), "prefix": api_token.prefix},
        )
    return bool(revoked)


def api_token_resolve(token: str, now: datetime | None = None) -> ApiToken | None:
    """The live token behind `token` (with its user loaded), or None.

    Unknown, malformed and revoked tokens, and tokens of deactivated users, all give None.
    A hit records its time, at most once per LAST_USED_RESOLUTION.
    """
    now = now or timezone.now()
    api_token = row_for_token(ApiToken.objects.select_related("user"), token, _TOKEN_SHAPE)
    if api_token is None:
        return None
    if api_token.revoked_at is not None or not api_token.user.is_active:
        return None
    stale = now - LAST_USED_RESOLUTION
    if api_token.last_used_at is None or api_token.last_used_at < stale:
        ApiToken.objects.filter(pk=api_token.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale)
        ).update(last_used_at=now)
        api_token.last_used_at = now
    return api_token


def api_rate_limit_hit(api_token: ApiToken, now: float | None = None) -> int | None:
    """Count one request against `api_token`'s budget.

    Returns None while within API_RATE_LIMIT requests for the current window, otherwise
    the seconds until the window ends (for Retry-After). The window is fixed: it starts
    on the minute, and every web process counts into the same store (jobs/ratelimit.py).
    """
    # The token's code, not its pk: a pk may be reused after a delete, a code never.
    return ratelimit.rate_hit(
        "api", str(api_token.code), limit=API_RATE_LIMIT, window=API_RATE_WINDOW, now=now
    )
