"""What a Failed CI job's `JobsDetail.Code` means, for operators (docs/PROVIDERS.md §3.3).

The codes and what they mean are data, in catalogue.toml beside this module.
"""

from __future__ import annotations

from jobs.providers.catalogue import load_catalogue

FAILURE_CATALOGUE = load_catalogue(__name__)
