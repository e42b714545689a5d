"""Secret tokens stored only as their SHA-256: API tokens and share links.

The raw token is shown once and kept nowhere; a lookup hashes what it is given and finds
the row by that hash.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import TypeVar

from django.db import models

Row = TypeVar("Row", bound=models.Model)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def row_for_token(queryset: models.QuerySet[Row], token: str, shape: re.Pattern[str]) -> Row | None:
    """The row of `queryset` whose `token_hash` is `token`'s, or None (also for a token
    not of `shape`: anything far from a real token's shape is not worth hashing)."""
    if not shape.fullmatch(token):
        return None
    digest = token_hash(token)
    # The lookup is by hash, so its timing says nothing about the token itself.
    row = queryset.filter(token_hash=digest).first()
    if row is None or not hmac.compare_digest(str(row.serializable_value("token_hash")), digest):
        return None
    return row
