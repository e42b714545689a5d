"""Keyset paging for the pages' lists (jobs, audit): the `after` parameter names the last
row shown by its (time, id), so a page costs the same however deep it is."""

from __future__ import annotations

from datetime import UTC, datetime


def after_param(at: datetime, pk: int) -> str:
    """The `after` value that continues past the row (`at`, `pk`)."""
    return f"{at.timestamp():.6f}_{pk}"


def parse_after(raw: str) -> tuple[datetime, int] | None:
    """The (time, id) an `after` value names; None for anything else (first page)."""
    stamp, _, pk = raw.partition("_")
    try:
        return datetime.fromtimestamp(float(stamp), tz=UTC), int(pk)
    except (ValueError, OverflowError, OSError):
        return None
