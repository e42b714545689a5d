"""Saving and removing named views of the job list."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.http import urlencode

from jobs.models import SavedView
from jobs.services.errors import InvalidInput

# Per user; a view list longer than this stops being a shortcut.
MAX_VIEWS_PER_USER = 30


def saved_view_query(params: Mapping[str, str]) -> str:
    """The canonical query string of the list parameters `params` (empty values dropped)."""
    return urlencode(sorted((k, v) for k, v in params.items() if v))


def saved_view_create(
    *, owner: Any, name: str, params: Mapping[str, str], shared: bool = False
) -> SavedView:
    """Save the list's (already validated) parameters under `name`.

    Raises InvalidInput for an empty or taken name, or past MAX_VIEWS_PER_USER.
    """
    name = " ".join(name.split())
    if not name or len(name) > 60:
        raise InvalidInput("a view needs a name of 1 to 60 characters")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):  # PostgreSQL refuses a NUL
        raise InvalidInput("a view's name cannot hold control characters")
    if SavedView.objects.filter(owner=owner).count() >= MAX_VIEWS_PER_USER:
        raise InvalidInput(f"you have {MAX_VIEWS_PER_USER} views; delete one first")
    query = saved_view_query(params)
    if len(query) > 2000:
        raise InvalidInput("these filters are too long to save")
    try:
        with transaction.atomic():
            return SavedView.objects.create(owner=owner, name=name, query=query, shared=shared)
    except IntegrityError:
        raise InvalidInput(f"you already have a view named “{name}”") from None


def saved_view_delete(*, view: SavedView, user: Any) -> bool:
    """Delete `view` if `user` may (its owner, or staff). Returns whether it was deleted."""
    if view.owner_id != user.pk and not user.is_staff:
        return False
    view.delete()
    return True
