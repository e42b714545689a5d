"""The one exception services raise for input a person got wrong."""

from __future__ import annotations


class InvalidInput(ValueError):
    """Input a person gave us is wrong; the message says which part and why."""
