"""The raw provider payload as the job page shows it: pretty JSON with long lists cut short
(a Tencent IVH answer repeats every word timing the page shows above it), the whole of it one
download away."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

LIST_LONG = 20  # a list longer than this is shortened on the page
LIST_SHOWN = 5  # ... to its first items and a line saying how many more
SHOWN_CHARS = 20_000  # what is still longer (one huge string, a wide object) is cut here


def payload_json(raw: Any) -> str:
    """The payload as the download holds it (and the page, when it is short)."""
    return json.dumps(raw, indent=2, ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class RawPreview:
    text: str
    shortened: bool  # True: the page shows less than the download holds


def raw_preview(raw: Any) -> RawPreview:
    """`raw` pretty-printed for the page, every list over `LIST_LONG` items cut to its
    first `LIST_SHOWN` and a note of how many more, the text to `SHOWN_CHARS`."""
    shortened = False

    def shorten(value: Any) -> Any:
        nonlocal shortened
        if isinstance(value, dict):
            return {key: shorten(item) for key, item in value.items()}
        if not isinstance(value, list):
            return value
        if len(value) <= LIST_LONG:
            return [shorten(item) for item in value]
        shortened = True
        more = f"… {len(value) - LIST_SHOWN} more items in the full payload"
        return [shorten(item) for item in value[:LIST_SHOWN]] + [more]

    text = payload_json(shorten(raw))
    if len(text) > SHOWN_CHARS:
        text, shortened = text[:SHOWN_CHARS] + "\n… (cut here: the full payload has the rest)", True
    return RawPreview(text, shortened)
