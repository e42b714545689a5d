"""Credentials at rest: Fernet tokens under keys from CLAPBOARD_ENCRYPTION_KEYS.

The keys are their own secret, never derived from SECRET_KEY, so leaking one does not
leak the other. Several keys may be configured, newest first: the newest encrypts,
all of them decrypt, and `manage.py rotatekeys` moves every row to the newest.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models

if TYPE_CHECKING:
    # django-stubs types a field by what it accepts and returns; at run time TextField
    # cannot be subscripted, so only the type checker sees the parameters.
    _JSONText = models.TextField[Any, Any]
    _Text = models.TextField[Any, str]
else:
    _JSONText = _Text = models.TextField


class EncryptionError(Exception):
    """Credentials cannot be encrypted or decrypted with the configured keys."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise EncryptionError(
            "CLAPBOARD_ENCRYPTION_KEYS is not set: credentials cannot be read or stored. "
            "Generate a key with `python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'`."
        )
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError):
        raise EncryptionError(
            "CLAPBOARD_ENCRYPTION_KEYS holds a value that is not a Fernet key "
            "(32 url-safe base64-encoded bytes)"
        ) from None


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.CLAPBOARD_ENCRYPTION_KEYS))


def encrypt(value: Any) -> str:
    return fernet().encrypt(json.dumps(value, sort_keys=True).encode()).decode()


def decrypt(token: str) -> Any:
    try:
        return json.loads(fernet().decrypt(token.encode()))
    except InvalidToken:
        raise EncryptionError(
            "stored credentials cannot be decrypted with any configured key "
            "(was a key removed from CLAPBOARD_ENCRYPTION_KEYS?)"
        ) from None


class EncryptedJSONField(_JSONText):
    """A JSON object stored as a Fernet token; decrypted on load, encrypted on save.

    A row that cannot be decrypted raises EncryptionError rather than handing the
    ciphertext to code that would treat it as the secret.
    """

    # What the model attribute accepts and holds, for django-stubs (TextField's are str).
    _pyi_private_set_type: Any
    _pyi_private_get_type: Any

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return {}
        return decrypt(value)

    def to_python(self, value: Any) -> Any:
        if isinstance(value, dict):
            return value
        if value in (None, ""):
            return {}
        return decrypt(value)

    def get_prep_value(self, value: Any) -> str:
        return encrypt(value if value is not None else {})

    def value_to_string(self, obj: Any) -> str:
        # dumpdata gets the token, never the plaintext.
        return self.get_prep_value(self.value_from_object(obj))


# Fernet tokens are base64 of a version byte 0x80 and a timestamp: they all start so.
_TOKEN_PREFIX = "gAAAAA"


class EncryptedTextField(_Text):
    """A string stored as a Fernet token: robot webhook URLs carry their access token.

    Python code sees the plain string; the column only ever holds the token, so the value
    cannot be used in lookups.
    """

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str:
        if value is None or value == "":
            return ""
        return str(decrypt(value))

    def to_python(self, value: Any) -> str:
        if value is None:
            return ""
        text = str(value)
        # loaddata hands back what value_to_string wrote: the token.
        if text.startswith(_TOKEN_PREFIX):
            try:
                return str(json.loads(fernet().decrypt(text.encode())))
            except InvalidToken:
                pass
        return text

    def get_prep_value(self, value: Any) -> str:
        return encrypt(str(value) if value is not None else "")

    def value_to_string(self, obj: Any) -> str:
        return self.get_prep_value(self.value_from_object(obj))
