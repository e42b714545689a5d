"""Test settings: the normal settings, with django-q2 running tasks inline."""

import os

os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("CLAPBOARD_ENCRYPTION_KEYS", "kCGnKrj3bj5VmwRfXSu6UNw7_NEG0ZS2W-Xl7DeUNvA=")

from dashboard.settings import *  # noqa: E402,F403
from dashboard.settings import Q_CLUSTER  # noqa: E402

Q_CLUSTER = {**Q_CLUSTER, "sync": True}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):  # noqa: F405
    # One file per test process: concurrent runs on one machine must not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-{os.getpid()}.sqlite3")}  # noqa: F405
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CLAPBOARD_ALLOW_LOOPBACK_FETCH = True
# Accounts point at the simulator on 127.0.0.1.
CLAPBOARD_ALLOW_PRIVATE_ENDPOINTS = True
WHITENOISE_AUTOREFRESH = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Tests freeze the clock for rate-limit windows; Redis expiry follows the real clock.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
