"""The job list's sortable column headers and its page sizes, as links.

A header links to its column's order, newest or largest first; the column sorted by links
to the other direction and carries `aria-sort`. Every link keeps the filters and starts
at the first page (a keyset belongs to one order and one page size).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.http import urlencode

from dashboard.jobs.forms import PER_PAGE
from jobs.listing import DEFAULT_SORT, Sort

# Columns of the table that sort, by their sort key.
SORTABLE = {"created": "Created", "changed": "Last change", "duration": "Media length"}
SORTABLE_PROGRESS = ("progress", "Progress")


@dataclass(frozen=True)
class Header:
    label: str
    url: str
    # "ascending" / "descending" for the column sorted by, else "".
    aria_sort: str
    # What following the link does, for its title.
    action: str


def _url(params: dict[str, str], **changes: str) -> str:
    query = {k: v for k, v in params.items() if k != "after"} | changes
    query = {k: v for k, v in query.items() if v and not (k == "sort" and v == DEFAULT_SORT)}
    return "?" + urlencode(query) if query else "."


def sort_headers(sort: Sort, params: dict[str, str]) -> dict[str, Header]:
    """{sort column: its header} for the list's sortable columns under `sort`."""
    headers = {}
    for column, label in [*SORTABLE.items(), SORTABLE_PROGRESS]:
        current = sort.column == column
        descending = not sort.descending if current else True
        target = Sort(column, descending)
        way = "oldest first" if not descending else "newest first"
        if column in ("duration", "progress"):
            way = "largest first" if descending else "smallest first"
        headers[column] = Header(
            label=label,
            url=_url(params, sort=target.param),
            aria_sort=("descending" if sort.descending else "ascending") if current else "",
            action=f"Sort by {label.lower()}, {way}",
        )
    return headers


def default_order_url(params: dict[str, str]) -> str:
    """The list under the same filters in its default order (newest tracked first)."""
    return _url(params, sort="")


def page_sizes(current: int, params: dict[str, str]) -> list[tuple[int, str, bool]]:
    """(size, link, whether it is the current size) for each page size offered."""
    first = PER_PAGE[0]
    return [
        (size, _url(params, per_page="" if size == first else str(size)), size == current)
        for size in PER_PAGE
    ]
