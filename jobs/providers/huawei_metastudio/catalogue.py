"""What a FAILED MetaStudio job's `error_info.error_code` means (docs/PROVIDERS.md §4.4).

The codes and what they mean are data, in catalogue.toml beside this module.
"""

from __future__ import annotations

from jobs.providers.catalogue import load_catalogue

FAILURE_CATALOGUE = load_catalogue(__name__)
