from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from dashboard.humanize import human_duration

register = template.Library()


@register.filter
def duration_ms(value: int | None) -> str:
    """12345 → "12.3 s", 754000 → "12 min 34 s"."""
    if value is None:
        return "—"
    seconds = value / 1000
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02} min"


@register.filter
def since(value: timedelta | None) -> str:
    return "—" if value is None else human_duration(value)


@register.simple_tag
def moment(value: datetime | None, relative: bool = False, due: bool = False) -> str:
    """A <time> the page script shows in the viewer's zone (relative if asked), UTC on hover.

    Without the script it reads as UTC, which is still true. A `due` time (a next check)
    reads "due now" once it has passed, never "… ago"."""
    if value is None:
        return mark_safe('<span class="muted">—</span>')  # noqa: S308 - a constant
    text = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    kind = " data-relative" if relative else " data-local"
    # Built without format_html: every part is made here from a datetime, nothing needs
    # escaping, and a list page renders three of these per row.
    return mark_safe(  # noqa: S308
        f'<time datetime="{value.isoformat()}" title="{text}"{kind}'
        f"{' data-due' if due else ''}>{text}</time>"
    )


@register.simple_tag
def age(value: datetime) -> str:
    """How old `value` is ("2 min"), kept current by the page script; UTC on hover."""
    return format_html(
        '<time datetime="{}" title="{}" data-age>{}</time>',
        value.isoformat(),
        value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        human_duration(timezone.now() - value),
    )
