"""Where a provider's job listing stands between `discover` calls: the cursor's meaning."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from jobs.providers.status import JobStatus
from jobs.providers.wire import iso_utc, parse_time


@dataclass(frozen=True)
class ListingPass:
    """Where a `discover` cursor stands in a provider's job list (in any order).

    A pass lists the jobs created at or after `since`, page by page: `page` is the
    provider's token (or offset) for the next page of that same query, `newest` the
    latest creation time seen in the pass. When a pass ends, the next one starts at
    `newest`: only jobs created since are listed again, plus the few created in that
    same second, which the importer finds already tracked.
    """

    since: datetime
    page: str | int | None = None
    newest: datetime | None = None

    @classmethod
    def resume(
        cls,
        cursor: Mapping[str, Any],
        *,
        now: datetime,
        first_window: timedelta,
        retention: timedelta | None = None,
    ) -> ListingPass:
        """The pass a cursor describes; `{}` (or garbage) starts one `first_window` back.

        A new pass never reaches further back than `retention`; a pass under way keeps
        its `since`, because its page token belongs to that exact query.
        """
        since = parse_time(cursor.get("since"))
        page = cursor.get("page") if isinstance(cursor.get("page"), str | int) else None
        newest = parse_time(cursor.get("newest"))
        if since is None:
            since, page, newest = now - first_window, None, None
        if not page and retention is not None:
            since = max(since, now - retention)
        return cls(since, page or None, newest)

    def after(self, jobs: Sequence[JobStatus], page: str | int | None) -> dict[str, Any]:
        """The cursor after one page of `jobs`: this pass with `page` next (and
        `"more": True`), or, when `page` is empty, the next pass from the newest job."""
        seen = [job.created_at for job in jobs if job.created_at is not None]
        newest = max([*seen, *([self.newest] if self.newest else [])], default=None)
        if not page:
            return {"since": iso_utc(max(newest, self.since) if newest else self.since)}
        cursor: dict[str, Any] = {"since": iso_utc(self.since), "page": page, "more": True}
        if newest is not None:
            cursor["newest"] = iso_utc(newest)
        return cursor

    def restart(self) -> dict[str, Any]:
        """The cursor that asks this pass again from its first page (an expired token)."""
        cursor: dict[str, Any] = {"since": iso_utc(self.since), "more": True}
        if self.newest is not None:
            cursor["newest"] = iso_utc(self.newest)
        return cursor
