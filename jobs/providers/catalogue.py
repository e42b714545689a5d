"""Failure catalogues are data: each provider package ships a `catalogue.toml`, read here.

One table a job failure code, in the order of the file:

    ["InvalidInput"]
    category = "INPUT"          # a FailureCategory name
    summary = "Input media unusable"
    retry_helps = false
    action = "Check the input media ... and submit again."
"""

from __future__ import annotations

import tomllib
from importlib import resources
from typing import Any

from jobs.providers.errors import Explanation, FailureCategory

CATALOGUE_FILE = "catalogue.toml"
_FIELDS = frozenset({"category", "summary", "retry_helps", "action"})


def load_catalogue(module: str) -> dict[str, Explanation]:
    """The failure catalogue in the `catalogue.toml` beside `module` (a provider's
    `catalogue` module, by its `__name__`); see `parse_catalogue`."""
    package = module.rpartition(".")[0]
    source = resources.files(package).joinpath(CATALOGUE_FILE).read_text(encoding="utf-8")
    return parse_catalogue(source, where=f"{package}/{CATALOGUE_FILE}")


def parse_catalogue(source: str, *, where: str) -> dict[str, Explanation]:
    """A catalogue's TOML text as explanations keyed by failure code, in file order.

    Raises ValueError (naming `where` and the code) when an entry lacks a field, has one
    more, names no FailureCategory or has a value of the wrong type: a broken catalogue
    fails at import, not on a job.
    """
    return {
        code: _explanation(f"{where} [{code}]", fields)
        for code, fields in tomllib.loads(source).items()
    }


def _explanation(where: str, fields: Any) -> Explanation:
    if not isinstance(fields, dict) or set(fields) != _FIELDS:
        raise ValueError(f"{where}: wants exactly the fields {', '.join(sorted(_FIELDS))}")
    category = fields["category"]
    if category not in FailureCategory.__members__:
        raise ValueError(f"{where}: category {category!r} is not a FailureCategory name")
    summary, retry_helps, action = fields["summary"], fields["retry_helps"], fields["action"]
    if not (isinstance(summary, str) and isinstance(action, str) and isinstance(retry_helps, bool)):
        raise ValueError(f"{where}: summary and action are strings, retry_helps a boolean")
    return Explanation(FailureCategory[category], summary, retry_helps=retry_helps, action=action)
