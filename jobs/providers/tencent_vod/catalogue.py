"""What a failed VOD task's `failure_code` means, for operators (docs/PROVIDERS.md §2.2).

The codes and what they mean are data, in catalogue.toml beside this module.
"""

from __future__ import annotations

from jobs.providers.catalogue import load_catalogue

FAILURE_CATALOGUE = load_catalogue(__name__)

# Our inference, not Tencent's: words in the Message that say more than a coarse numeric
# ErrCode (or "FAIL") does, mapped to the ErrCodeExt entry that fits. First match wins.
_MESSAGE_HINTS: tuple[tuple[str, str], ...] = (
    ("moderation", "ContentModerationFailed"),
    ("violat", "InvalidParameter.VoilationContent"),
    ("sensitive", "ContentModerationFailed"),
    ("frequency", "RequestLimitExceeded"),
)
