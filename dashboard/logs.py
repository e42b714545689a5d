"""Log records without the notification receivers' URL secrets: the development server
logs every request line, and a receiver's path is its secret (/hooks/<code>/<secret>/)."""

from __future__ import annotations

import logging
import re

HOOK_PATH = re.compile(r"(/hooks/[^/\s]+/)[^/\s\"]+")


class RedactHookSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "/hooks/" in message:
            record.msg, record.args = HOOK_PATH.sub(r"\1[secret]", message), ()
        return True
