"""Keyset paging for the pages' lists (jobs, audit): the `after` parameter names the last
row shown by its sort key and id, so a page costs the same however deep it is."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# A key and an id: a whole number (µs since the epoch for a time), or the old form of a
# time, seconds with a fraction, which links from before the list could sort still carry.
_KEYSET = re.compile(r"(-?[0-9]{1,20})_([0-9]{1,19})")
_OLD_TIME = re.compile(r"(-?[0-9]{1,12}\.[0-9]{1,6})_([0-9]{1,19})")


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


def keyset_param(key: datetime | int, pk: int) -> str:
    """The `after` value that continues past the row with sort key `key` and id `pk`:
    whole microseconds for a time, so rows 1 µs apart stay apart."""
    if isinstance(key, datetime):
        key = (key - EPOCH) // timedelta(microseconds=1)
    return f"{key}_{pk}"


def parse_keyset(raw: str, *, timed: bool) -> tuple[datetime | int, int] | None:
    """The (key, id) an `after` value names for a sort by a time (`timed`) or a number;
    None for anything else, which shows the first page."""
    try:
        if match := _KEYSET.fullmatch(raw):
            key, pk = int(match[1]), int(match[2])
            return (EPOCH + timedelta(microseconds=key) if timed else key), pk
        if timed and (match := _OLD_TIME.fullmatch(raw)):
            return datetime.fromtimestamp(float(match[1]), tz=UTC), int(match[2])
    except (ValueError, OverflowError, OSError):
        pass
    return None
