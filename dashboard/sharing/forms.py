"""The share panel's form: how long a new link works."""

from __future__ import annotations

from typing import Any

from django import forms

from jobs.services import sharing


class ShareLinkForm(forms.Form):
    days = forms.TypedChoiceField(
        label="Expires after",
        choices=[
            (days, f"{days} day{'s' if days > 1 else ''}") for days in sharing.SHARE_EXPIRY_DAYS
        ],
        coerce=int,
        initial=sharing.SHARE_DEFAULT_DAYS,
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "share_%s")
        super().__init__(*args, **kwargs)
