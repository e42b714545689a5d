"""Durations in words, for the presenters and the template filters alike."""

from __future__ import annotations

from datetime import timedelta


def human_duration(delta: timedelta) -> str:
    """In words: 42 s, 12 min, 2 h 5 min (never 0 s)."""
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return f"{max(seconds, 1)} s"
    if seconds < 3600:
        return f"{round(seconds / 60)} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def human_range(low: timedelta, high: timedelta) -> str:
    """A range such as "2–4 min", or "about 3 min" when both ends read the same."""
    a, b = human_duration(low), human_duration(high)
    if a == b:
        return "about " + a
    unit_a, unit_b = a.rsplit(" ", 1), b.rsplit(" ", 1)
    if len(unit_a) == 2 and len(unit_b) == 2 and unit_a[1] == unit_b[1] and " " not in unit_a[0]:
        return f"{unit_a[0]}–{b}"
    return f"{a} – {b}"
