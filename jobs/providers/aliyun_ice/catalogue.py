"""What a Fail ICE job's code means, for operators (docs/PROVIDERS.md §5.3).

The codes and what they mean are data, in catalogue.toml beside this module.
"""

from __future__ import annotations

import re

from jobs.providers.catalogue import load_catalogue

FAILURE_CATALOGUE = load_catalogue(__name__)

# A catalogue code quoted in a message ("InvalidInput.NotExist: ..."), for code "Fail".
_QUOTED_CODE = re.compile(r"[A-Za-z]+(?:\.[A-Za-z]+)*")
